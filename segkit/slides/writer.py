"""A slide-sized mask written band by band, then saved as a tiled, pyramidal OME-TIFF.

A whole-slide mask (100,000 px a side is 10 GB as uint8) never lies in memory. Rows arrive in
order, in bands of any height (:meth:`PyramidMaskWriter.write_band`, or as column spans with
zeros between them, :meth:`~PyramidMaskWriter.write_spans`); the writer keeps only the tiles
of the current row of tiles that hold labels, and stores every complete row of tiles in a
disk-backed zarr array in a hidden folder beside the output (tiles of zeros are never
stored). :meth:`~PyramidMaskWriter.finish` builds the smaller levels (each 2x smaller, by
taking every second pixel: labels are never interpolated) from that store, tile by tile, and
writes ``NAME.ome.tif``: tiled, compressed (every tile of zeros the same bytes, compressed
once), the levels in SubIFDs, ``PhysicalSizeX``/``PhysicalSizeY`` in µm. The file is written
under a temporary name and renamed, and the store is removed.

The rows in the store are durable: :attr:`PyramidMaskWriter.rows_done` says how many, so a
writer opened again with ``rows_done`` continues an interrupted mask where it stopped.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segkit.files import atomic_path

__all__ = ["PyramidMaskWriter", "default_levels"]


def default_levels(size: tuple[int, int], tile: int) -> int:
    """Levels down to one tile (at least 3): ``max(3, 1 + ceil(log2(max(w, h) / tile)))``."""
    longest = max(size)
    return max(3, 1 + math.ceil(math.log2(max(longest / tile, 1.0))))


def _level_shape(shape: tuple[int, int]) -> tuple[int, int]:
    return (-(-shape[0] // 2), -(-shape[1] // 2))


class PyramidMaskWriter:
    """Write a mask of ``size`` band by band; save it as a pyramidal OME-TIFF.

    Parameters
    ----------
    path : path
        The output, e.g. ``OUT/NAME.ome.tif``.
    size : (int, int)
        ``(width, height)`` of the full-resolution mask.
    mpp : (float, float) or None
        Microns per pixel ``(x, y)`` at full resolution, written as the OME pixel size.
    dtype : dtype
        Of the mask (class indices: uint8).
    tile : int
        TIFF tile and zarr chunk side, a multiple of 16.
    compression : str
        TIFF compression (``"zlib"``, ``"zstd"``, ``"lzw"``, None); lossless only.
    levels : int, optional
        Pyramid levels (full resolution included, at least 1); default :func:`default_levels`.
    store : path, optional
        The zarr folder; default ``.NAME.zarr`` beside ``path``.
    rows_done : int
        Rows already durable in an existing ``store`` (a multiple of ``tile``): continue an
        interrupted mask. 0 starts a new store.

    Notes
    -----
    Memory: the tiles of one row of tiles that hold labels while writing, and a few tiles while
    building a level or writing the TIFF, whatever the height and width.
    """

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int],
        *,
        mpp: tuple[float, float] | None,
        dtype: Any = np.uint8,
        tile: int = 512,
        compression: str | None = "zlib",
        levels: int | None = None,
        store: str | Path | None = None,
        rows_done: int = 0,
    ) -> None:
        import zarr

        self.path = Path(path)
        width, height = (int(size[0]), int(size[1]))
        if width < 1 or height < 1:
            raise ValueError(f"PyramidMaskWriter: size must be positive, got {size!r}")
        if tile < 16 or tile % 16:
            raise ValueError(f"PyramidMaskWriter: tile must be a multiple of 16, got {tile!r}")
        self.size = (width, height)
        self.mpp = None if mpp is None else (float(mpp[0]), float(mpp[1]))
        self.dtype = np.dtype(dtype)
        self.tile = int(tile)
        self.compression = compression
        self.levels = default_levels(self.size, self.tile) if levels is None else int(levels)
        if self.levels < 1:
            raise ValueError(f"PyramidMaskWriter: levels must be >= 1, got {levels!r}")
        self.store = (
            Path(store) if store is not None else self.path.with_name(f".{_stem(self.path)}.zarr")
        )
        if rows_done and (rows_done % self.tile and rows_done != height or rows_done > height):
            raise ValueError(
                f"rows_done {rows_done} is not a whole number of {self.tile}-row tiles of a "
                f"{height}-row mask"
            )
        shape, chunks = (height, width), (self.tile, self.tile)
        if rows_done:
            arr = zarr.open_array(str(self.store / "0"), mode="r+")
            if tuple(arr.shape) != shape or np.dtype(arr.dtype) != self.dtype:
                raise ValueError(
                    f"{self.store} holds a {arr.dtype} {arr.shape} mask, not {self.dtype} "
                    f"{shape}; remove it to start again"
                )
        else:
            if self.store.exists():
                shutil.rmtree(self.store)
            self.store.mkdir(parents=True)
            arr = zarr.open_array(
                str(self.store / "0"),
                mode="w",
                shape=shape,
                chunks=chunks,
                dtype=self.dtype,
                fill_value=0,
            )
        self._array = arr
        # which tiles of level 0 may hold labels: only those are stored, read and downsampled
        # (tiles before rows_done, stored by an earlier writer, count as possibly non-zero)
        self._nonzero = np.zeros((-(-height // self.tile), -(-width // self.tile)), dtype=bool)
        self._nonzero[: -(-int(rows_done) // self.tile)] = True
        self.rows_done = int(rows_done)
        self._pending: dict[int, np.ndarray] = {}  # tile column -> its waiting rows
        self._filled = 0  # rows of _pending that hold data (from rows_done on)
        self.finished = False

    @property
    def rows_received(self) -> int:
        """Rows given so far (durable or waiting for their row of tiles to be complete)."""
        return self.rows_done + self._filled

    @property
    def pending_nbytes(self) -> int:
        """Bytes of the tiles waiting for their row of tiles to be complete."""
        return sum(int(t.nbytes) for t in self._pending.values())

    def write_band(self, y0: int, band: np.ndarray) -> int:
        """Add the rows ``y0 .. y0 + len(band)`` of the mask; returns :attr:`rows_done`.

        Rows come in order: ``y0`` may not lie beyond the rows given so far; rows before them
        (already given, e.g. again after a resume) are ignored.
        """
        arr = np.asarray(band)
        width = self.size[0]
        if arr.ndim != 2 or arr.shape[1] != width:
            raise ValueError(f"write_band: expected (rows, {width}) rows, got shape {arr.shape}")
        return self.write_spans(y0, arr.shape[0], [(0, arr)])

    def write_spans(self, y0: int, rows: int, spans: Sequence[tuple[int, np.ndarray]]) -> int:
        """Add the rows ``y0 .. y0 + rows``: zeros but for ``spans``; returns :attr:`rows_done`.

        ``spans`` are ``(x0, piece)``: ``piece`` (``rows`` rows) holds columns
        ``x0 .. x0 + piece.shape[1]``; spans do not overlap. Rows come in order as for
        :meth:`write_band`. Only the tiles a span touches are held (zero tiles not even
        those), so memory follows the spans' width, not the mask's.
        """
        width, height = self.size
        if y0 > self.rows_received:
            raise ValueError(
                f"write_band: rows {self.rows_received}..{y0} are missing; bands come in order"
            )
        if y0 + rows > height:
            raise ValueError(f"write_band: rows up to {y0 + rows} of a {height}-row mask")
        for x0, piece in spans:
            if piece.ndim != 2 or piece.shape[0] != rows or x0 < 0 or x0 + piece.shape[1] > width:
                raise ValueError(
                    f"write_spans: a ({rows}, w) piece within {width} columns expected, got "
                    f"shape {piece.shape} at column {x0}"
                )
        r = self.rows_received - y0
        while r < rows:
            take = min(min(self.tile, height - self.rows_done) - self._filled, rows - r)
            for x0, piece in spans:
                self._place(x0, piece[r : r + take])
            self._filled += take
            r += take
            if self._filled == min(self.tile, height - self.rows_done):
                self._flush()
        return self.rows_done

    def _place(self, x0: int, piece: np.ndarray) -> None:
        """Copy ``piece`` into the waiting tiles from column ``x0`` (zero parts are skipped)."""
        t, x1 = self.tile, x0 + piece.shape[1]
        for j in range(x0 // t, -(-x1 // t)):
            a, b = max(x0, j * t), min(x1, (j + 1) * t)
            part = piece[:, a - x0 : b - x0]
            if not part.any():
                continue
            tile = self._pending.get(j)
            if tile is None:
                tile = self._pending[j] = np.zeros((t, t), dtype=self.dtype)
            tile[self._filled : self._filled + len(part), a - j * t : b - j * t] = part

    def _flush(self) -> None:
        """Store the complete row of tiles; tiles of zeros stay the store's fill value."""
        y, t, width = self.rows_done, self.tile, self.size[0]
        flags = self._nonzero[y // t]
        for j in sorted(self._pending):
            x1 = min((j + 1) * t, width)
            self._array[y : y + self._filled, j * t : x1] = self._pending[j][
                : self._filled, : x1 - j * t
            ]
            flags[j] = True
        self._pending.clear()
        self.rows_done += self._filled
        self._filled = 0

    def finish(self) -> Path:
        """Build the levels, write the OME-TIFF atomically, remove the store; returns the path."""
        if self.finished:
            return self.path
        height = self.size[1]
        if self.rows_done != height:
            raise ValueError(
                f"{self.path.name}: only {self.rows_received} of {height} rows were written"
            )
        arrays, nonzero = [self._array], [self._nonzero]
        for k in range(1, self.levels):
            array, flags = self._downsample(arrays[-1], nonzero[-1], k)
            arrays.append(array)
            nonzero.append(flags)
        self._write_tiff(arrays, nonzero)
        shutil.rmtree(self.store, ignore_errors=True)
        self.finished = True
        return self.path

    def close(self) -> None:
        """Finish a complete mask; an incomplete one keeps its store for a resume."""
        if not self.finished and self.rows_done == self.size[1]:
            self.finish()

    def discard(self) -> None:
        """Remove the store (an abandoned mask)."""
        shutil.rmtree(self.store, ignore_errors=True)

    def __enter__(self) -> PyramidMaskWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()

    def _downsample(self, source: Any, nonzero: np.ndarray, k: int) -> tuple[Any, np.ndarray]:
        """Level ``k``: every second row and column of level ``k - 1`` (nearest).

        Returns it with its tiles that may be non-zero (``nonzero``: those of level ``k - 1``);
        rows of tiles that can only be zeros are not read.
        """
        import zarr

        shape = _level_shape(tuple(source.shape))
        padded = np.pad(nonzero, ((0, nonzero.shape[0] % 2), (0, nonzero.shape[1] % 2)))
        pairs = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2)
        flags = np.asarray(pairs.any(axis=(1, 3)))
        flags = flags[: -(-shape[0] // self.tile), : -(-shape[1] // self.tile)]
        target = zarr.open_array(
            str(self.store / str(k)),
            mode="w",
            shape=shape,
            chunks=(self.tile, self.tile),
            dtype=self.dtype,
            fill_value=0,
        )
        t = self.tile
        for i, j in zip(*np.nonzero(flags), strict=True):  # one tile at a time
            y, x = int(i) * t, int(j) * t
            block = np.asarray(source[2 * y : 2 * (y + t), 2 * x : 2 * (x + t)])
            target[y : y + t, x : x + t] = block[::2, ::2]
        return target, flags

    def _tiles(self, array: Any, nonzero: np.ndarray) -> Iterator[bytes]:
        """The array's tiles in row-major order, encoded, one tile read at a time.

        A tile that can only be zeros (``nonzero``) is not read, and every tile of zeros is
        the same encoded tile, compressed once.
        """
        rows, cols = array.shape
        t = self.tile
        encode = _encoder(self.compression)
        zeros = np.zeros((t, t), dtype=self.dtype)
        empty = encode(zeros)
        for i, y in enumerate(range(0, rows, t)):
            for j, x in enumerate(range(0, cols, t)):
                if not nonzero[i, j]:
                    yield empty
                    continue
                tile = np.asarray(array[y : y + t, x : x + t])
                if not tile.any():
                    yield empty
                    continue
                if tile.shape != (t, t):
                    tile = np.pad(tile, ((0, t - tile.shape[0]), (0, t - tile.shape[1])))
                yield encode(tile)

    def _write_tiff(self, arrays: list[Any], nonzero: list[np.ndarray]) -> None:
        import tifffile

        options: dict[str, Any] = {
            "dtype": self.dtype,
            "tile": (self.tile, self.tile),
            "compression": self.compression,
            "photometric": "minisblack",
        }
        metadata: dict[str, Any] = {"axes": "YX", "Name": _stem(self.path)}
        if self.mpp is not None:
            mx, my = self.mpp
            metadata |= {
                "PhysicalSizeX": mx,
                "PhysicalSizeXUnit": "µm",
                "PhysicalSizeY": my,
                "PhysicalSizeYUnit": "µm",
            }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp, tifffile.TiffWriter(tmp, bigtiff=True, ome=True) as tif:
            for k, array in enumerate(arrays):
                extra: dict[str, Any] = {}
                if self.mpp is not None:
                    scale = 2**k  # level k pixels are 2**k level-0 pixels (rounded up)
                    extra["resolution"] = (1e4 / (mx * scale), 1e4 / (my * scale))
                    extra["resolutionunit"] = "CENTIMETER"
                if k == 0:
                    extra |= {"subifds": len(arrays) - 1, "metadata": metadata}
                else:
                    extra |= {"subfiletype": 1, "metadata": None}
                tif.write(
                    self._tiles(array, nonzero[k]), shape=tuple(array.shape), **options, **extra
                )


def _encoder(compression: str | None) -> Any:
    """A tile -> its bytes in the TIFF, as tifffile encodes them (None: uncompressed)."""
    import tifffile

    if not compression:
        return lambda tile: np.ascontiguousarray(tile).tobytes()
    name = str(compression).upper()
    tag = 8 if name == "ZLIB" else int(tifffile.COMPRESSION[name].value)  # 8: ADOBE_DEFLATE
    compressor = tifffile.TIFF.COMPRESSORS[tag]
    return lambda tile: bytes(compressor(np.ascontiguousarray(tile)))


def _stem(path: Path) -> str:
    """``a.ome.tif`` -> ``a``."""
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
