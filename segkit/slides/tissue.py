"""Where the tissue is: a boolean mask on a low-resolution thumbnail of the slide.

:func:`detect_tissue` reads a thumbnail (the long side about ``thumbnail_size`` pixels, from
the coarsest level fine enough, block-averaged strip by strip), and then:

1. a per-pixel stain measure: ``"od"``, the mean optical density ``-log10((rgb + 1) / 256)``
   over R, G, B (glass is about 0), or ``"saturation"``, ``(max - min) / max`` of RGB;
2. a Gaussian blur of ``smoothing`` level-0 pixels (64, at least 1 thumbnail pixel), so that
   nuclei and the faint counterstain between them (IHC) read as one tissue, then Otsu's
   threshold, never below ``min_threshold`` (0.03 OD or 0.05 saturation), so an empty slide
   gives no tissue rather than its noise;
3. a closing (radius 2 px) to join nuclei and stroma, an opening (radius 1 px) to drop
   dust, filling of holes, and removal of pieces smaller than ``min_area_um2`` µm² when the
   slide's mpp is known (``min_area_px`` thumbnail pixels otherwise).

:func:`tissue_tiles` says which windows of a prediction grid touch that mask, and
:func:`save_tissue_png` draws its outline on the thumbnail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segkit.slides.base import Slide, best_level

__all__ = [
    "Tissue",
    "read_thumbnail",
    "tissue_measure",
    "detect_tissue",
    "tissue_tiles",
    "tissue_png_name",
    "save_tissue_png",
]

_MIN_THRESHOLD = {"od": 0.03, "saturation": 0.05}


@dataclass(frozen=True)
class Tissue:
    """A tissue mask at thumbnail scale.

    Attributes
    ----------
    mask : (M, N) bool ndarray
        True on tissue; pixel ``(r, c)`` covers level-0 pixels from ``(c, r) * downsample``.
    downsample : float
        Level-0 pixels per mask pixel.
    thumbnail : (M, N, 3) uint8 ndarray
        The image the mask was computed on.
    threshold : float
        The threshold applied to the stain measure.
    slide_size : (int, int)
        ``(width, height)`` of level 0.
    """

    mask: np.ndarray
    downsample: float
    thumbnail: np.ndarray
    threshold: float
    slide_size: tuple[int, int]

    @property
    def fraction(self) -> float:
        """Share of the thumbnail that is tissue."""
        return float(self.mask.mean()) if self.mask.size else 0.0


def read_thumbnail(
    slide: Slide, *, thumbnail_size: int = 1536, strip: int = 1024
) -> tuple[np.ndarray, float]:
    """``(thumbnail, downsample)``: the slide with its long side about ``thumbnail_size`` px.

    The level read is the coarsest at or finer than the target; it is reduced by the nearest
    whole factor with block means, ``strip`` rows at a time, so a slide without a small level is
    never read whole. ``downsample`` is level-0 pixels per thumbnail pixel.
    """
    width, height = slide.level_dimensions[0]
    target = max(width, height) / max(1, thumbnail_size)
    level = best_level(slide, target)
    lw, lh = slide.level_dimensions[level]
    factor = max(1, round(target / slide.level_downsamples[level]))
    tw, th = max(1, lw // factor), max(1, lh // factor)
    rows = max(1, strip // factor) * factor
    out = np.empty((th, tw, 3), dtype=np.uint8)
    for y in range(0, th * factor, rows):
        h = min(rows, th * factor - y)
        block = slide.read_region((0, y), (tw * factor, h), level=level)
        block = block.reshape(h // factor, factor, tw, factor, 3).mean(axis=(1, 3))
        out[y // factor : (y + h) // factor] = np.rint(block).astype(np.uint8)
    return out, width / tw


def tissue_measure(thumbnail: np.ndarray, method: str = "od") -> np.ndarray:
    """``(M, N)`` float: mean optical density (``"od"``) or saturation of an RGB image."""
    rgb = np.asarray(thumbnail, dtype=np.float32)[..., :3]
    if method == "od":
        return -np.log10((rgb + 1.0) / 256.0).mean(axis=2)
    if method == "saturation":
        high, low = rgb.max(axis=2), rgb.min(axis=2)
        return np.where(high > 0, (high - low) / np.maximum(high, 1.0), 0.0)
    raise ValueError(f"method: expected 'od' or 'saturation', got {method!r}")


def detect_tissue(
    slide: Slide,
    *,
    thumbnail_size: int = 1536,
    method: str = "od",
    min_threshold: float | None = None,
    smoothing: float = 64.0,
    min_area_um2: float = 5_000.0,
    min_area_px: int = 64,
) -> Tissue:
    """Find the tissue of ``slide`` on a thumbnail (see the module's description for the steps).

    Parameters
    ----------
    thumbnail_size : int
        Long side of the thumbnail in pixels (about; the level is reduced by a whole factor).
    method : {'od', 'saturation'}
    min_threshold : float, optional
        Floor of the Otsu threshold (default 0.03 for OD, 0.05 for saturation).
    smoothing : float
        Sigma of the Gaussian blur before thresholding, in level-0 pixels.
    min_area_um2 : float
        Pieces of tissue smaller than this many µm² are dropped (when the mpp is known).
    min_area_px : int
        The same in thumbnail pixels, for slides without mpp.
    """
    from scipy import ndimage
    from skimage.filters import threshold_otsu
    from skimage.morphology import disk

    thumbnail, downsample = read_thumbnail(slide, thumbnail_size=thumbnail_size)
    sigma = max(1.0, float(smoothing) / downsample)
    measure = ndimage.gaussian_filter(tissue_measure(thumbnail, method), sigma, mode="nearest")
    floor = _MIN_THRESHOLD[method] if min_threshold is None else float(min_threshold)
    otsu = float(threshold_otsu(measure)) if float(np.ptp(measure)) > 0 else floor
    threshold = max(otsu, floor)
    mask = measure > threshold
    mask = np.pad(mask, 3, mode="edge")  # so that the closing keeps tissue at the border
    mask = ndimage.binary_closing(mask, structure=disk(2).astype(bool))
    mask = ndimage.binary_opening(mask, structure=disk(1).astype(bool))[3:-3, 3:-3]
    mask = ndimage.binary_fill_holes(mask)
    if slide.mpp is not None:
        pixel_um2 = slide.mpp[0] * slide.mpp[1] * downsample * downsample
        min_px = max(1, int(np.ceil(min_area_um2 / pixel_um2)))
    else:
        min_px = int(min_area_px)
    labels, n = ndimage.label(mask)
    if n:
        areas = np.bincount(labels.ravel(), minlength=n + 1)
        keep = areas >= min_px
        keep[0] = False
        mask = keep[labels]
    return Tissue(
        mask=mask.astype(bool),
        downsample=float(downsample),
        thumbnail=thumbnail,
        threshold=threshold,
        slide_size=tuple(slide.level_dimensions[0]),  # type: ignore[arg-type]
    )


def tissue_tiles(
    tissue: Tissue,
    tile: int,
    overlap: int = 0,
    *,
    level_downsample: float = 1.0,
    min_fraction: float = 0.0,
) -> list[tuple[int, int]]:
    """``(x, y)`` origins, in the level's pixels, of the grid windows that touch tissue.

    The grid covers the level (``slide_size / level_downsample``) with windows of ``tile``
    pixels every ``tile - overlap`` pixels from ``(0, 0)``; the last row and column may run past
    the edge (read as white). A window is kept when more than ``min_fraction`` of the mask
    pixels under it are tissue (``0``: any tissue at all).
    """
    stride = tile - overlap
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"expected tile > 0 and 0 <= overlap < tile, got {tile}, {overlap}")
    width = int(np.ceil(tissue.slide_size[0] / level_downsample))
    height = int(np.ceil(tissue.slide_size[1] / level_downsample))
    scale = level_downsample / tissue.downsample  # mask pixels per level pixel
    integral = np.pad(tissue.mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    rows, cols = tissue.mask.shape
    kept = []
    for y in range(0, max(height - overlap, 1), stride):
        r0 = min(rows, int(np.floor(y * scale)))
        r1 = min(rows, max(r0 + 1, int(np.ceil((y + tile) * scale))))
        for x in range(0, max(width - overlap, 1), stride):
            c0 = min(cols, int(np.floor(x * scale)))
            c1 = min(cols, max(c0 + 1, int(np.ceil((x + tile) * scale))))
            area = max(1, (r1 - r0) * (c1 - c0))
            count = integral[r1, c1] - integral[r0, c1] - integral[r1, c0] + integral[r0, c0]
            if count > 0 and count / area > min_fraction:
                kept.append((x, y))
    return kept


def tissue_png_name(slide_path: str | Path) -> str:
    """``NAME_tissue.png`` for slide ``NAME.svs`` (or ``NAME.ome.tif``)."""
    name = Path(slide_path).name
    stem = name[: -len(".ome.tif")] if name.lower().endswith(".ome.tif") else Path(name).stem
    if stem.lower().endswith(".ome"):
        stem = stem[:-4]
    return f"{stem}_tissue.png"


def save_tissue_png(path: str | Path, thumbnail: np.ndarray, tissue: Tissue | np.ndarray) -> Path:
    """Write the thumbnail with the tissue outline drawn in green (2 px); returns ``path``.

    ``tissue`` is a :class:`Tissue` or a bool mask of the thumbnail's shape. Name the file
    with :func:`tissue_png_name`.
    """
    from scipy import ndimage

    from segkit.imaging import write_image

    mask = tissue.mask if isinstance(tissue, Tissue) else np.asarray(tissue, dtype=bool)
    if mask.shape != thumbnail.shape[:2]:
        raise ValueError(
            f"the tissue mask {mask.shape} does not match the thumbnail {thumbnail.shape[:2]}"
        )
    edge = mask & ~ndimage.binary_erosion(mask, iterations=2, border_value=0)
    picture = np.array(thumbnail[..., :3], dtype=np.uint8, copy=True)
    picture[edge] = (0, 200, 0)
    return write_image(path, picture)
