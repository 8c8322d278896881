"""What segkit needs of a whole slide: levels, their sizes, microns per pixel, regions.

Every slide reader (OpenSlide for the vendor formats, tifffile for OME-TIFF and pyramidal TIFF)
gives a :class:`Slide`. Coordinates are ``(x, y)`` = (column, row) in pixels of the level
asked for, sizes ``(width, height)``; arrays come back as ``(rows, cols, 3)`` uint8 RGB.
:class:`ArraySlide` wraps an in-memory image (tests, and images small enough to hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Slide", "ArraySlide", "best_level"]


@runtime_checkable
class Slide(Protocol):
    """A multi-resolution image read region by region.

    Attributes
    ----------
    path : Path
        The slide file (or a name for in-memory slides).
    level_dimensions : tuple of (int, int)
        ``(width, height)`` of every level, level 0 the full resolution.
    level_downsamples : tuple of float
        Level 0 pixels per pixel of each level (1.0 for level 0).
    mpp : (float, float) or None
        Microns per pixel ``(x, y)`` at level 0, or None when the file does not say.
    """

    path: Path
    level_dimensions: tuple[tuple[int, int], ...]
    level_downsamples: tuple[float, ...]
    mpp: tuple[float, float] | None

    def read_region(
        self, location: tuple[int, int], size: tuple[int, int], *, level: int = 0
    ) -> np.ndarray:
        """RGB pixels ``(height, width, 3)`` uint8 of the window at ``location`` (level pixels).

        Parts outside the level are white (255), as glass.
        """
        ...

    def close(self) -> None:
        """Release the file."""
        ...


def best_level(slide: Slide, downsample: float) -> int:
    """The level whose downsample is the largest one not above ``downsample`` (level 0 at least).

    Reading at that level and resizing by the remaining factor never upsamples.
    """
    chosen = 0
    for i, d in enumerate(slide.level_downsamples):
        if d <= downsample * (1 + 1e-6):
            chosen = i
    return chosen


@dataclass
class ArraySlide:
    """An in-memory image seen as a slide, with levels made by 2x averaging.

    Parameters
    ----------
    image : (M, N, 3) uint8 ndarray
    mpp : (float, float), optional
    levels : int
        Number of levels (each half the size of the one before).
    name : str
    """

    image: np.ndarray
    mpp: tuple[float, float] | None = None
    levels: int = 3
    name: str = "array"
    path: Path = field(init=False)
    level_dimensions: tuple[tuple[int, int], ...] = field(init=False)
    level_downsamples: tuple[float, ...] = field(init=False)
    _pyramid: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        arr = np.asarray(self.image)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise ValueError(
                f"ArraySlide needs an (M, N, 3) uint8 image, got {arr.dtype} {arr.shape}"
            )
        pyramid = [arr]
        for _ in range(1, max(1, int(self.levels))):
            prev = pyramid[-1]
            h, w = prev.shape[0] // 2, prev.shape[1] // 2
            if h < 1 or w < 1:
                break
            small = prev[: 2 * h, : 2 * w].reshape(h, 2, w, 2, 3).mean(axis=(1, 3))
            pyramid.append(np.rint(small).astype(np.uint8))
        self._pyramid = pyramid
        self.path = Path(self.name)
        self.level_dimensions = tuple((p.shape[1], p.shape[0]) for p in pyramid)
        self.level_downsamples = tuple(arr.shape[1] / p.shape[1] for p in pyramid)

    def read_region(
        self, location: tuple[int, int], size: tuple[int, int], *, level: int = 0
    ) -> np.ndarray:
        """See :meth:`Slide.read_region`."""
        src = self._pyramid[level]
        x, y = int(location[0]), int(location[1])
        w, h = int(size[0]), int(size[1])
        out = np.full((h, w, 3), 255, dtype=np.uint8)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, src.shape[1]), min(y + h, src.shape[0])
        if x1 > x0 and y1 > y0:
            out[y0 - y : y1 - y, x0 - x : x1 - x] = src[y0:y1, x0:x1]
        return out

    def close(self) -> None:
        """Nothing to release."""
