"""A predicted slide mask at one pyramid level, and drawn over the slide at the same scale.

:func:`segkit.slides.predict_slide` writes ``NAME.ome.tif``: a tiled OME-TIFF whose level
``k`` is every ``2**k``-th pixel of the full-resolution mask (SubIFDs). :func:`read_mask_level`
reads one of those levels with tifffile; :func:`mask_over_slide` reads a level of the slide
with ``read_region``, brings the mask's closest level to its size (nearest: labels are never
interpolated) and blends it over the slide with :func:`segkit.viz.overlays.blend_overlay`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segkit.slides.bands import nearest_index
from segkit.slides.base import Slide

__all__ = ["MAX_OVERLAY_PIXELS", "mask_level_sizes", "read_mask_level", "mask_over_slide"]

#: A slide level larger than this (width x height) is refused by :func:`mask_over_slide`.
MAX_OVERLAY_PIXELS = 64_000_000


def mask_level_sizes(path: str | Path) -> list[tuple[int, int]]:
    """``(width, height)`` of every pyramid level of a mask OME-TIFF, full resolution first."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return [(int(lv.shape[-1]), int(lv.shape[-2])) for lv in tif.series[0].levels]


def read_mask_level(path: str | Path, level: int = 0) -> np.ndarray:
    """Level ``level`` of a mask OME-TIFF: ``(M, N)`` class indices ({0, 255} if binary).

    Raises
    ------
    ValueError
        When the file has no such level (the message says which it has).
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        levels = tif.series[0].levels
        if not 0 <= level < len(levels):
            raise ValueError(
                f"level {level}: {Path(path).name} has mask levels 0..{len(levels) - 1}"
            )
        return np.asarray(levels[level].asarray())


def _closest_mask_level(sizes: list[tuple[int, int]], width: int) -> int:
    """The coarsest mask level at least ``width`` wide (level 0 when none is)."""
    chosen = 0
    for k, (w, _) in enumerate(sizes):
        if w >= width:
            chosen = k
    return chosen


def mask_over_slide(
    slide: Slide,
    mask_path: str | Path,
    level: int,
    *,
    alpha: float = 0.4,
    contours: bool = False,
    max_pixels: int = MAX_OVERLAY_PIXELS,
) -> np.ndarray:
    """The slide's level ``level`` with the predicted mask over it, ``(M, N, 3)`` uint8.

    Parameters
    ----------
    slide : Slide
        The slide the mask was predicted on.
    mask_path : path
        Its mask, ``NAME.ome.tif`` from :func:`segkit.slides.predict_slide`.
    level : int
        The slide level to draw; the mask's coarsest level at least as large is read and
        brought to that level's size by nearest neighbour.
    alpha, contours
        As :func:`segkit.viz.overlays.blend_overlay` (the mask in magenta).
    max_pixels : int
        A larger level is refused: pick a coarser one.

    Raises
    ------
    ValueError
        When the level does not exist, is too large, or the mask is not of this slide.
    """
    from segkit.viz.overlays import blend_overlay

    dims = slide.level_dimensions
    if not 0 <= level < len(dims):
        raise ValueError(f"level {level}: slide {slide.path.name} has levels 0..{len(dims) - 1}")
    width, height = dims[level]
    if width * height > max_pixels:
        coarser = [k for k, (w, h) in enumerate(dims) if w * h <= max_pixels]
        hint = f"level {coarser[0]}" if coarser else "a smaller max_pixels region"
        raise ValueError(
            f"level {level} of {slide.path.name} is {width} x {height} px, more than "
            f"{max_pixels:,}; draw {hint} instead"
        )
    sizes = mask_level_sizes(mask_path)
    if sizes[0] != tuple(dims[0]):
        raise ValueError(
            f"{Path(mask_path).name} is {sizes[0][0]} x {sizes[0][1]} px but slide "
            f"{slide.path.name} is {dims[0][0]} x {dims[0][1]}: not its mask"
        )
    mask = read_mask_level(mask_path, _closest_mask_level(sizes, width))
    if mask.shape != (height, width):
        rows, cols = nearest_index(height, mask.shape[0]), nearest_index(width, mask.shape[1])
        mask = mask[np.ix_(rows, cols)]
    image = slide.read_region((0, 0), (width, height), level=level)
    return blend_overlay(image, prediction=mask, alpha=alpha, contours=contours)
