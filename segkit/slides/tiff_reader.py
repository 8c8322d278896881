"""OME-TIFF and pyramidal or tiled TIFF read lazily with tifffile and zarr.

The levels are the image series' resolution levels as tifffile finds them: OME-TIFF
sub-resolutions in SubIFDs, reduced-resolution pages of a pyramidal TIFF, or a single tiled
page. The largest series is the slide (thumbnails, labels and macro images are other series).
Regions are read through ``series.aszarr(level=...)``: only the tiles a window touches are
decoded, never the whole level. Needs ``zarr`` (and ``imagecodecs`` for JPEG, JPEG 2000, LZW
... tiles), both in the ``slides`` extra.

Pixels come back as RGB uint8: a grey image is repeated to three channels, a fourth channel
(alpha) is dropped, uint16 is scaled by 1/257 and floats in [0, 1] by 255. Axes other than
Y, X and samples/channels (T, Z, ...) are read at index 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from segkit.slides.mpp import mpp_from_aperio, mpp_from_ome, mpp_from_tiff_resolution

__all__ = ["TiffSlide", "is_ome_tiff", "is_tiled_tiff", "tiff_level_sizes"]


def _open(path: str | Path) -> tifffile.TiffFile | None:
    p = Path(path)
    if not p.is_file():
        return None
    try:
        with p.open("rb") as fh:
            if fh.read(4) not in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
                return None
        return tifffile.TiffFile(p)
    except (OSError, ValueError, tifffile.TiffFileError):
        return None


def _main_series(tif: tifffile.TiffFile) -> tuple[int, Any]:
    """``(index, series)`` of the series with the most pixels at full resolution."""
    sizes = [int(np.prod(s.shape)) for s in tif.series]
    index = int(np.argmax(sizes))
    return index, tif.series[index]


def tiff_level_sizes(path: str | Path) -> list[tuple[int, int]]:
    """``(width, height)`` of each resolution level of the file's main series.

    Empty when the file is not a readable TIFF. Reads headers only (no zarr needed).
    """
    tif = _open(path)
    if tif is None:
        return []
    with tif:
        if not tif.series:
            return []
        sizes = []
        for level in _main_series(tif)[1].levels:
            shape = dict(zip(level.axes, level.shape, strict=True))
            sizes.append((int(shape.get("X", 0)), int(shape.get("Y", 0))))
        return sizes


def is_ome_tiff(path: str | Path) -> bool:
    """True for a TIFF with OME-XML metadata."""
    tif = _open(path)
    if tif is None:
        return False
    with tif:
        return bool(tif.is_ome)


def is_tiled_tiff(path: str | Path) -> bool:
    """True for a TIFF whose main series is tiled or has more than one resolution level."""
    tif = _open(path)
    if tif is None:
        return False
    with tif:
        if not tif.series:
            return False
        _, series = _main_series(tif)
        return len(series.levels) > 1 or bool(series.keyframe.is_tiled)


def _to_rgb(block: np.ndarray) -> np.ndarray:
    if block.dtype == np.uint16:
        block = ((block.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif block.dtype.kind == "f":
        block = np.clip(np.rint(block * 255.0), 0, 255).astype(np.uint8)
    elif block.dtype != np.uint8:
        block = np.clip(block, 0, 255).astype(np.uint8)
    if block.shape[2] == 1:
        block = np.repeat(block, 3, axis=2)
    return np.ascontiguousarray(block[..., :3])


class _Level:
    """One level: a zarr array and how to index it as ``(rows, cols, samples)``."""

    def __init__(self, series: Any, level: int) -> None:
        import zarr

        page_series = series.levels[level]
        self.axes = page_series.axes
        self.array = zarr.open_array(series.aszarr(level=level), mode="r")
        shape = dict(zip(self.axes, page_series.shape, strict=True))
        self.height, self.width = int(shape["Y"]), int(shape["X"])
        self.channel_axis = next((a for a in "SC" if a in shape and shape[a] in (3, 4)), None)
        if self.channel_axis is None:
            self.channel_axis = next((a for a in "SC" if a in shape and shape[a] == 1), None)

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        index: list[slice | int] = []
        kept = []
        for axis in self.axes:
            if axis == "Y":
                index.append(slice(y0, y1))
            elif axis == "X":
                index.append(slice(x0, x1))
            elif axis == self.channel_axis:
                index.append(slice(None))
            else:
                index.append(0)
                continue
            kept.append(axis)
        block = np.asarray(self.array[tuple(index)])
        if self.channel_axis is None:
            block, kept = block[..., None], [*kept, "S"]
        order = [kept.index("Y"), kept.index("X")]
        order.append(next(i for i, a in enumerate(kept) if a not in "YX"))
        return _to_rgb(np.transpose(block, order))


def _tiff_mpp(tif: tifffile.TiffFile, index: int, page: Any) -> tuple[float, float] | None:
    if tif.is_ome and tif.ome_metadata:
        mpp = mpp_from_ome(tif.ome_metadata, image=index)
        if mpp is not None:
            return mpp
    tags = page.tags
    xres, yres, unit = tags.get("XResolution"), tags.get("YResolution"), tags.get("ResolutionUnit")
    if xres is not None and yres is not None and unit is not None:
        mpp = mpp_from_tiff_resolution(xres.value, yres.value, int(unit.value))
        if mpp is not None:
            return mpp
    return mpp_from_aperio(page.description or "")


class TiffSlide:
    """A :class:`~segkit.slides.base.Slide` over an OME-TIFF or a tiled/pyramidal TIFF.

    Parameters
    ----------
    path : path
        The TIFF file; its largest image series is the slide.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tif = tifffile.TiffFile(self.path)
        try:
            if not self._tif.series:
                raise ValueError(f"{self.path}: the TIFF holds no image")
            index, series = _main_series(self._tif)
            self._levels = [_Level(series, i) for i in range(len(series.levels))]
            self.mpp = _tiff_mpp(self._tif, index, series.keyframe)
        except Exception:
            self._tif.close()
            raise
        self.level_dimensions = tuple((lv.width, lv.height) for lv in self._levels)
        w0 = self._levels[0].width
        self.level_downsamples = tuple(w0 / lv.width for lv in self._levels)

    def read_region(
        self, location: tuple[int, int], size: tuple[int, int], *, level: int = 0
    ) -> np.ndarray:
        """See :meth:`segkit.slides.base.Slide.read_region` (``location`` in level pixels)."""
        if not 0 <= level < len(self._levels):
            raise IndexError(f"{self.path}: level {level} of {len(self._levels)}")
        lv = self._levels[level]
        x, y, w, h = int(location[0]), int(location[1]), int(size[0]), int(size[1])
        out = np.full((max(h, 0), max(w, 0), 3), 255, dtype=np.uint8)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, lv.width), min(y + h, lv.height)
        if x1 > x0 and y1 > y0:
            out[y0 - y : y1 - y, x0 - x : x1 - x] = lv.read(y0, y1, x0, x1)
        return out

    def close(self) -> None:
        """Release the file."""
        self._tif.close()

    def __enter__(self) -> TiffSlide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
