"""Slides that OpenSlide reads: Aperio SVS, Hamamatsu NDPI/VMS, MIRAX MRXS, Leica SCN,
Ventana BIF, Philips TIFF, DICOM and generic tiled TIFF.

Needs the ``slides`` extra (``openslide-python`` with ``openslide-bin``). OpenSlide's regions
are RGBA with transparent pixels outside the scanned area; they are composited on white.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from segkit.slides.mpp import mpp_from_openslide

__all__ = ["OpenSlideSlide", "openslide_format", "composite_on_white"]


def _openslide() -> ModuleType | None:
    try:
        import openslide
    except ImportError:  # the slides extra is not installed, or the library is missing
        return None
    return openslide


def openslide_format(path: str | Path) -> str | None:
    """OpenSlide's name for the file's format (``'aperio'``, ``'generic-tiff'``, ...), or None.

    None also when OpenSlide is not installed.
    """
    openslide = _openslide()
    if openslide is None:
        return None
    try:
        return openslide.OpenSlide.detect_format(str(path))
    except Exception:  # openslide raises its own errors for unreadable files
        return None


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """``(M, N, 3)`` uint8: ``(M, N, 4)`` RGBA (not premultiplied) laid on a white background."""
    rgba = np.asarray(rgba)
    rgb = rgba[..., :3].astype(np.uint16)
    alpha = rgba[..., 3:4].astype(np.uint16)
    if bool((alpha == 255).all()):
        return np.ascontiguousarray(rgba[..., :3], dtype=np.uint8)
    out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


class OpenSlideSlide:
    """A :class:`~segkit.slides.base.Slide` read through OpenSlide.

    Parameters
    ----------
    path : path
        A file that :func:`openslide_format` recognises.
    """

    def __init__(self, path: str | Path) -> None:
        openslide = _openslide()
        if openslide is None:
            raise ImportError(
                f"{path}: reading this slide needs OpenSlide: pip install -e '.[slides]'"
            )
        self.path = Path(path)
        self._slide = openslide.OpenSlide(str(self.path))
        self.level_dimensions = tuple((int(w), int(h)) for w, h in self._slide.level_dimensions)
        self.level_downsamples = tuple(float(d) for d in self._slide.level_downsamples)
        self.mpp = mpp_from_openslide(self._slide.properties)
        self.properties = dict(self._slide.properties)

    def read_region(
        self, location: tuple[int, int], size: tuple[int, int], *, level: int = 0
    ) -> np.ndarray:
        """See :meth:`segkit.slides.base.Slide.read_region` (``location`` in level pixels)."""
        if not 0 <= level < len(self.level_dimensions):
            raise IndexError(f"{self.path}: level {level} of {len(self.level_dimensions)}")
        w, h = int(size[0]), int(size[1])
        if w <= 0 or h <= 0:
            return np.full((max(h, 0), max(w, 0), 3), 255, dtype=np.uint8)
        ds = self.level_downsamples[level]
        origin = (round(int(location[0]) * ds), round(int(location[1]) * ds))
        region = self._slide.read_region(origin, level, (w, h))
        return composite_on_white(np.asarray(region))

    def close(self) -> None:
        """Release the file."""
        self._slide.close()

    def __enter__(self) -> OpenSlideSlide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
