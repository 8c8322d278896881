"""Write an RGB pyramidal TIFF strip by strip, so no level is ever whole in memory.

Level 0 comes from a function that renders one strip of rows; each level is written tile by
tile through tifffile's tile iterator while its 2x average (the next level) is appended to a
temporary raw file beside the output, which then feeds the next level. Peak memory is a few
strips (``tile`` rows by the slide's width), whatever the slide's size. Level ``k + 1`` is
``(w // 2, h // 2)`` of level ``k``; each of its pixels is the rounded mean of a 2x2 block.

Two layouts:

- ``"ome"``: OME-TIFF, sub-resolutions in the SubIFDs of level 0, ``PhysicalSizeX/Y`` in µm;
- ``"tiff"``: a generic tiled TIFF, one page per level (reduced pages ``NewSubfileType=1``),
  which OpenSlide opens as ``generic-tiff``.

Both carry ``XResolution``/``YResolution`` in ``resolution_unit`` (``"cm"`` or ``"inch"``)
when ``mpp`` is given.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = ["StripRenderer", "level_sizes", "half", "write_pyramid"]

#: ``render(y0, height) -> (height, width, 3)`` uint8: rows ``y0 .. y0 + height`` of level 0.
StripRenderer = Callable[[int, int], np.ndarray]

_UNITS = {"cm": ("CENTIMETER", 1e4), "inch": ("INCH", 25_400.0)}
_CODECS = {"jpeg": ("jpeg", {"level": 90}), "zlib": ("zlib", {"level": 3})}


def level_sizes(size: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """``(width, height)`` of up to ``levels`` levels, each half the one before (floored)."""
    sizes = [(int(size[0]), int(size[1]))]
    while len(sizes) < levels and min(sizes[-1]) >= 2:
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes


def half(strip: np.ndarray, *, chunk: int = 2048) -> np.ndarray:
    """``(h // 2, w // 2, 3)`` uint8: rounded means of 2x2 blocks, in column chunks."""
    h2, w2 = strip.shape[0] // 2, strip.shape[1] // 2
    out = np.empty((h2, w2, strip.shape[2]), dtype=np.uint8)
    for c in range(0, w2, chunk):
        block = strip[: 2 * h2, 2 * c : 2 * min(c + chunk, w2)].astype(np.uint16)
        total = block[0::2, 0::2] + block[1::2, 0::2] + block[0::2, 1::2] + block[1::2, 1::2]
        out[:, c : c + chunk] = (total + 2) >> 2
    return out


def _tiles(strip: np.ndarray, tile: int) -> Iterator[np.ndarray]:
    """The strip's tiles left to right, padded with white to ``tile x tile``."""
    for x in range(0, strip.shape[1], tile):
        piece = strip[:, x : x + tile]
        if piece.shape[:2] != (tile, tile):
            full = np.full((tile, tile, 3), 255, dtype=np.uint8)
            full[: piece.shape[0], : piece.shape[1]] = piece
            piece = full
        yield piece


def _file_strips(fh: BinaryIO, size: tuple[int, int], tile: int) -> StripRenderer:
    width = size[0]

    def render(y0: int, height: int) -> np.ndarray:
        fh.seek(y0 * width * 3)
        data = np.fromfile(fh, dtype=np.uint8, count=height * width * 3)
        return data.reshape(height, width, 3)

    return render


def _level_tiles(
    render: StripRenderer, size: tuple[int, int], tile: int, below: BinaryIO | None
) -> Iterator[np.ndarray]:
    """Tiles of one level in row-major order; its 2x average goes to ``below`` meanwhile."""
    width, height = size
    for y0 in range(0, height, tile):
        strip = render(y0, min(tile, height - y0))
        if strip.shape != (min(tile, height - y0), width, 3) or strip.dtype != np.uint8:
            raise ValueError(
                f"the strip renderer gave {strip.dtype} {strip.shape} for rows {y0}.., "
                f"expected uint8 ({min(tile, height - y0)}, {width}, 3)"
            )
        if below is not None:
            below.write(half(strip).tobytes())
        yield from _tiles(strip, tile)


def _options(
    compression: str, tile: int, mpp: float | None, unit: str, downsample: float
) -> dict[str, Any]:
    if compression not in _CODECS:
        raise ValueError(f"compression: expected one of {sorted(_CODECS)}, got {compression!r}")
    if unit not in _UNITS:
        raise ValueError(f"resolution_unit: expected one of {sorted(_UNITS)}, got {unit!r}")
    codec, args = _CODECS[compression]
    options: dict[str, Any] = {
        "photometric": "rgb",
        "tile": (tile, tile),
        "compression": codec,
        "compressionargs": args,
        "dtype": np.uint8,
    }
    if mpp is not None:
        name, microns = _UNITS[unit]
        per_unit = microns / (mpp * downsample)
        options |= {"resolution": (per_unit, per_unit), "resolutionunit": name}
    return options


def write_pyramid(
    path: str | Path,
    render: StripRenderer,
    size: tuple[int, int],
    *,
    kind: str = "ome",
    tile: int = 512,
    levels: int = 3,
    mpp: float | None = None,
    compression: str = "jpeg",
    resolution_unit: str = "cm",
) -> Path:
    """Write a pyramidal RGB TIFF of ``size = (width, height)`` rendered strip by strip.

    Parameters
    ----------
    path : path
        The output file (``.ome.tif`` is usual for ``kind="ome"``).
    render : StripRenderer
        Called with ``(y0, height)`` for consecutive strips of ``tile`` rows (the last may be
        shorter); returns ``(height, width, 3)`` uint8.
    kind : {'ome', 'tiff'}
    tile : int
        Tile side, a multiple of 16.
    levels : int
        Resolution levels, level 0 included (fewer when the image gets smaller than 2 px).
    mpp : float, optional
        Microns per pixel at level 0; None writes no physical size or resolution.
    compression : {'jpeg', 'zlib'}
        JPEG (quality 90) or lossless deflate.
    resolution_unit : {'cm', 'inch'}
        Unit of the TIFF resolution tags.
    """
    import tifffile

    if kind not in ("ome", "tiff"):
        raise ValueError(f"kind: expected 'ome' or 'tiff', got {kind!r}")
    if tile < 16 or tile % 16:
        raise ValueError(f"tile: expected a multiple of 16, got {tile}")
    out = Path(path)
    sizes = level_sizes(size, levels)
    bigtiff = sum(w * h * 3 for w, h in sizes) > 2**31
    with (
        tempfile.TemporaryDirectory(dir=out.parent, prefix=".pyramid-") as tmp,
        contextlib.ExitStack() as files,
        tifffile.TiffWriter(out, bigtiff=bigtiff, ome=kind == "ome") as tw,
    ):
        source = render
        for k, (w, h) in enumerate(sizes):
            below = None
            if k + 1 < len(sizes):  # the next level, as raw rows
                below = files.enter_context(open(os.path.join(tmp, f"{k + 1}.raw"), "w+b"))
            tiles = _level_tiles(source, (w, h), tile, below)
            options = _options(compression, tile, mpp, resolution_unit, sizes[0][0] / w)
            options |= {"shape": (h, w, 3)}
            if kind == "ome" and k == 0:
                metadata: dict[str, Any] = {"axes": "YXS"}
                if mpp is not None:
                    metadata |= {"PhysicalSizeX": mpp, "PhysicalSizeXUnit": "µm"}
                    metadata |= {"PhysicalSizeY": mpp, "PhysicalSizeYUnit": "µm"}
                tw.write(tiles, subifds=len(sizes) - 1, metadata=metadata, **options)
            elif kind == "ome":
                tw.write(tiles, subfiletype=1, **options)
            else:
                tw.write(tiles, subfiletype=int(k > 0), metadata=None, **options)
            if below is not None:
                below.flush()
                source = _file_strips(below, sizes[k + 1], tile)
    return out
