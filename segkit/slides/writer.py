"""A slide-sized mask written band by band, then saved as a tiled, pyramidal OME-TIFF.

A whole-slide mask (100,000 px a side is 10 GB as uint8) never lies in memory. Rows arrive in
order, in bands of any height (:meth:`PyramidMaskWriter.write_band`); the writer keeps at most
one row of tiles (``tile`` rows x the width) and stores every complete row of tiles in a
disk-backed zarr array in a hidden folder beside the output. :meth:`~PyramidMaskWriter.finish`
builds the smaller levels (each 2x smaller, by taking every second pixel: labels are never
interpolated) from that store, one row of tiles at a time, and writes ``NAME.ome.tif``: tiled,
compressed, the levels in SubIFDs, ``PhysicalSizeX``/``PhysicalSizeY`` in µm. The file is
written under a temporary name and renamed, and the store is removed.

The rows in the store are durable: :attr:`PyramidMaskWriter.rows_done` says how many, so a
writer opened again with ``rows_done`` continues an interrupted mask where it stopped.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
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
    Memory: ``tile x width`` mask pixels while writing, ``3 x tile x width`` while building a
    level, whatever the height.
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
        self._pending = np.zeros((self.tile, width), dtype=self.dtype)
        self._filled = 0  # rows of _pending that hold data (from rows_done on)
        self.finished = False

    @property
    def rows_received(self) -> int:
        """Rows given so far (durable or waiting for their row of tiles to be complete)."""
        return self.rows_done + self._filled

    def write_band(self, y0: int, band: np.ndarray) -> int:
        """Add the rows ``y0 .. y0 + len(band)`` of the mask; returns :attr:`rows_done`.

        Rows come in order: ``y0`` may not lie beyond the rows given so far; rows before them
        (already given, e.g. again after a resume) are ignored.
        """
        arr = np.asarray(band)
        width, height = self.size
        if arr.ndim != 2 or arr.shape[1] != width:
            raise ValueError(f"write_band: expected (rows, {width}) rows, got shape {arr.shape}")
        if y0 > self.rows_received:
            raise ValueError(
                f"write_band: rows {self.rows_received}..{y0} are missing; bands come in order"
            )
        if y0 + arr.shape[0] > height:
            raise ValueError(f"write_band: rows up to {y0 + arr.shape[0]} of a {height}-row mask")
        arr = arr[self.rows_received - y0 :]
        while arr.shape[0]:
            room = min(self.tile, height - self.rows_done) - self._filled
            take = arr[:room]
            self._pending[self._filled : self._filled + take.shape[0]] = take
            self._filled += take.shape[0]
            arr = arr[take.shape[0] :]
            if self._filled == min(self.tile, height - self.rows_done):
                self._flush()
        return self.rows_done

    def _flush(self) -> None:
        """Store the complete row of tiles; tiles of zeros stay the store's fill value."""
        y, t = self.rows_done, self.tile
        rows = self._pending[: self._filled]
        flags = self._nonzero[y // t]
        flags |= [bool(rows[:, j * t : (j + 1) * t].any()) for j in range(flags.size)]
        edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.view(np.int8), [0]))))
        for a, b in zip(edges[::2], edges[1::2], strict=True):  # each run of non-zero tiles
            self._array[y : y + self._filled, a * t : b * t] = rows[:, a * t : b * t]
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
        for i, y in enumerate(range(0, shape[0], self.tile)):
            if flags[i].any():
                rows = source[2 * y : 2 * (y + self.tile)]
                target[y : y + self.tile] = rows[::2, ::2]
        return target, flags

    def _tiles(self, array: Any, nonzero: np.ndarray) -> Iterator[np.ndarray]:
        """The array's tiles in row-major order, one row of tiles read at a time.

        A row of tiles that can only be zeros (``nonzero``) is not read.
        """
        rows, cols = array.shape
        zeros = np.zeros((self.tile, self.tile), dtype=self.dtype)
        for i, y in enumerate(range(0, rows, self.tile)):
            if not nonzero[i].any():
                for _ in range(0, cols, self.tile):
                    yield zeros
                continue
            strip = np.asarray(array[y : y + self.tile])
            for x in range(0, cols, self.tile):
                yield strip[:, x : x + self.tile]

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


def _stem(path: Path) -> str:
    """``a.ome.tif`` -> ``a``."""
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
