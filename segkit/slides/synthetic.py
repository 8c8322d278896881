"""Generated whole slides with their truth, for tests and benchmarks (nothing is downloaded).

:func:`make_synthetic_slide` writes white glass with a few lobed tissue blobs textured with
the tiles of :func:`segkit.synthetic.make_synthetic_sample` (Ki-67-like nuclei). It streams
(see :mod:`segkit.slides.pyramid`), so a 40,000 x 40,000 slide never sits in memory. It
returns a :class:`SyntheticSlide`: where the tissue is (exactly, at any scale), and the
nucleus labels and positive flags of each tissue tile.

:func:`slide_from_tiles` places real images (a MoNuSeg tile, say) on glass as a slide.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segkit.slides.pyramid import write_pyramid
from segkit.synthetic import SyntheticSample, make_synthetic_sample

__all__ = ["SyntheticSlide", "make_synthetic_slide", "slide_from_tiles"]

_VARIANTS = 4  # distinct generated tiles; each also appears in 8 rotations/flips


def _orient(array: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 rotations/flips of the square ``array`` (``k`` in 0..7)."""
    out = np.rot90(array, k % 4)
    return np.ascontiguousarray(out[:, ::-1] if k >= 4 else out)


@dataclass(frozen=True)
class SyntheticSlide:
    """A generated slide and its truth.

    Attributes
    ----------
    path : Path
    size : (int, int)
        ``(width, height)`` at level 0.
    mpp : float or None
    tile : int
        Side of the texture cells (and of the file's tiles).
    blobs : tuple of (cx, cy, a, b, theta, wobble, phase)
        The tissue: lobed ellipses in level-0 pixels (see :meth:`tissue_mask`).
    tissue_fraction : float
        Share of the slide's area that is tissue (measured at downsample 16).
    seed : int
    """

    path: Path
    size: tuple[int, int]
    mpp: float | None
    tile: int
    blobs: tuple[tuple[float, ...], ...]
    tissue_fraction: float
    seed: int
    samples: tuple[SyntheticSample, ...] = field(repr=False)

    def tissue_mask(
        self,
        downsample: float = 1.0,
        *,
        location: tuple[int, int] = (0, 0),
        size: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """``(rows, cols)`` bool: tissue at pixel centres of a grid ``downsample`` coarser.

        ``location`` and ``size`` (``(x, y)``, ``(w, h)``, in pixels of that grid) pick a window;
        the default is the whole slide, ``ceil(width / downsample)`` columns wide.
        """
        if size is None:
            size = (-(-self.size[0] // int(downsample)), -(-self.size[1] // int(downsample)))
        xs = (np.arange(size[0]) + location[0] + 0.5) * downsample
        ys = (np.arange(size[1]) + location[1] + 0.5) * downsample
        return _inside(self.blobs, xs[None, :], ys[:, None])

    def cell_variant(self, col: int, row: int) -> int:
        """Which texture (index into all ``len(samples) * 8`` orientations) fills a cell."""
        h = (col * 73_856_093) ^ (row * 19_349_663) ^ (self.seed * 83_492_791)
        return int(h % (len(self.samples) * 8))

    def tissue_cells(self) -> list[tuple[int, int]]:
        """``(col, row)`` of the texture cells (``tile`` pixels a side) that hold tissue."""
        t = self.tile
        cells = []
        for row in range(-(-self.size[1] // t)):
            for col in range(-(-self.size[0] // t)):
                if self._cell_mask(col, row) is not None:
                    cells.append((col, row))
        return cells

    def cell_truth(self, col: int, row: int) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, positive)`` of cell ``(col, row)``: nuclei where there is tissue.

        ``labels`` is ``(tile, tile)`` uint16 (0 outside tissue and beyond the slide's edge),
        ``positive[k - 1]`` says whether nucleus ``k`` is Ki-67 positive (a nucleus cut by the
        tissue edge keeps its id; one fully outside is absent from ``labels``).
        """
        sample = self._cell_sample(col, row)
        labels = _orient(sample.labels, self.cell_variant(col, row) % 8)
        mask = self._cell_mask(col, row)
        if mask is None:
            return np.zeros_like(labels), sample.positive
        return np.where(mask, labels, 0).astype(np.uint16), sample.positive

    def render(self, y0: int, height: int) -> np.ndarray:
        """Rows ``y0 .. y0 + height`` of level 0, ``(height, width, 3)`` uint8."""
        width, t = self.size[0], self.tile
        strip = np.full((height, width, 3), 255, dtype=np.uint8)
        for row in range(y0 // t, -(-(y0 + height) // t)):
            top, bottom = max(y0, row * t), min(y0 + height, (row + 1) * t)
            for col in range(-(-width // t)):
                mask = self._cell_mask(col, row)
                if mask is None:
                    continue
                variant = self.cell_variant(col, row) % 8
                pixels = _orient(self._cell_sample(col, row).image, variant)
                x0, w = col * t, min(t, width - col * t)
                rows = slice(top - row * t, bottom - row * t)
                m = mask[rows, :w]
                strip[top - y0 : bottom - y0, x0 : x0 + w][m] = pixels[rows, :w][m]
        return strip

    def write_truth(self, path: str | Path) -> Path:
        """Write the truth (size, mpp, blobs, tissue cells) as JSON; returns the path."""
        data = {
            "slide": self.path.name,
            "size": list(self.size),
            "mpp": self.mpp,
            "tile": self.tile,
            "seed": self.seed,
            "tissue_fraction": self.tissue_fraction,
            "blobs": [list(b) for b in self.blobs],
            "tissue_cells": [list(c) for c in self.tissue_cells()],
        }
        out = Path(path)
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        return out

    def _cell_sample(self, col: int, row: int) -> SyntheticSample:
        return self.samples[self.cell_variant(col, row) // 8]

    def _cell_mask(self, col: int, row: int) -> np.ndarray | None:
        """Tissue in cell ``(col, row)`` (``tile x tile`` bool), or None when it has none."""
        t = self.tile
        x0, y0 = col * t, row * t
        near = [b for b in self.blobs if _bbox_hits(b, x0, y0, t)]
        if not near:
            return None
        xs = np.arange(x0, x0 + t, dtype=np.float64)[None, :] + 0.5
        ys = np.arange(y0, y0 + t, dtype=np.float64)[:, None] + 0.5
        mask = _inside(tuple(near), xs, ys)
        mask[:, max(0, self.size[0] - x0) :] = False
        mask[max(0, self.size[1] - y0) :, :] = False
        return mask if mask.any() else None


def _bbox_hits(blob: tuple[float, ...], x0: int, y0: int, t: int) -> bool:
    cx, cy, a, b, _, wobble, _ = blob
    r = max(a, b) * (1 + wobble)
    return cx + r >= x0 and cx - r <= x0 + t and cy + r >= y0 and cy - r <= y0 + t


def _inside(blobs: tuple[tuple[float, ...], ...], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Whether points ``(xs, ys)`` (broadcast) lie in any lobed ellipse of ``blobs``."""
    out = np.zeros(np.broadcast_shapes(xs.shape, ys.shape), dtype=bool)
    for cx, cy, a, b, theta, wobble, phase in blobs:
        dx, dy = xs - cx, ys - cy
        u = (dx * np.cos(theta) + dy * np.sin(theta)) / a
        v = (-dx * np.sin(theta) + dy * np.cos(theta)) / b
        radius = 1 + wobble * np.sin(3 * np.arctan2(v, u) + phase)
        out |= u * u + v * v <= radius * radius
    return out


def _blobs(size: tuple[int, int], fraction: float, n: int, rng: np.random.Generator) -> tuple:
    w, h = size
    blobs = []
    for _ in range(n):
        area = fraction * w * h / n
        ratio = rng.uniform(0.6, 1.0)
        a = float(np.sqrt(area / (np.pi * ratio)))
        b = a * ratio
        r = min(a * 1.15, 0.48 * min(w, h))
        cx = float(rng.uniform(r, max(r, w - r)))
        cy = float(rng.uniform(r, max(r, h - r)))
        blobs.append((cx, cy, a, b, float(rng.uniform(0, np.pi)), 0.12, float(rng.uniform(0, 6.3))))
    return tuple(blobs)


def make_synthetic_slide(
    path: str | Path,
    *,
    size: tuple[int, int] = (8192, 8192),
    tissue_fraction: float = 0.3,
    mpp: float | None = 0.25,
    kind: str = "ome",
    tile: int = 512,
    levels: int = 4,
    seed: int = 0,
    compression: str = "jpeg",
    resolution_unit: str = "cm",
) -> SyntheticSlide:
    """Write a pyramidal slide of white glass with tissue blobs; returns it with its truth.

    Parameters
    ----------
    path : path
        Output file (``NAME.ome.tif`` for ``kind="ome"``, ``NAME.tif`` for ``"tiff"``).
    size : (int, int)
        ``(width, height)`` at level 0.
    tissue_fraction : float
        Aimed share of the area covered by tissue, in (0, 0.8]; three blobs may overlap,
        the measured share is :attr:`SyntheticSlide.tissue_fraction`.
    mpp : float or None
        Microns per pixel written to the metadata; None writes none.
    kind : {'ome', 'tiff'}
        OME-TIFF with SubIFD sub-resolutions, or a generic tiled TIFF that OpenSlide opens.
    tile, levels, compression, resolution_unit
        See :func:`segkit.slides.pyramid.write_pyramid`.
    seed : int
        The same seed gives the same slide.
    """
    if not 0 < tissue_fraction <= 0.8:
        raise ValueError(f"tissue_fraction: expected a share in (0, 0.8], got {tissue_fraction}")
    if levels < 1:
        raise ValueError(f"levels: expected at least 1, got {levels}")
    rng = np.random.default_rng(seed)
    blobs = _blobs(size, tissue_fraction, 3, rng)
    samples = tuple(
        make_synthetic_sample(tile, tile, seed=seed * 7919 + k) for k in range(_VARIANTS)
    )
    probe = SyntheticSlide(Path(path), tuple(size), mpp, tile, blobs, 0.0, seed, samples)  # type: ignore[arg-type]
    fraction = float(probe.tissue_mask(16).mean())
    slide = SyntheticSlide(Path(path), probe.size, mpp, tile, blobs, fraction, seed, samples)
    write_pyramid(
        path,
        slide.render,
        slide.size,
        kind=kind,
        tile=tile,
        levels=levels,
        mpp=mpp,
        compression=compression,
        resolution_unit=resolution_unit,
    )
    return slide


def slide_from_tiles(
    path: str | Path,
    image: np.ndarray | Sequence[np.ndarray],
    *,
    mpp: float | None = None,
    margin: int = 256,
    kind: str = "ome",
    levels: int = 3,
    compression: str = "jpeg",
) -> list[tuple[int, int]]:
    """Write real RGB image(s) side by side on white glass as a pyramidal slide.

    Parameters
    ----------
    image : (M, N, 3) uint8 ndarray or a sequence of them
        Placed left to right, ``margin`` pixels of glass around and between them.
    mpp : float, optional
        Microns per pixel of the images (0.2527 for MoNuSeg).

    Returns
    -------
    list of (int, int)
        ``(x, y)`` at level 0 where each image starts.
    """
    images = [image] if isinstance(image, np.ndarray) else list(image)
    for i, im in enumerate(images):
        if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
            raise ValueError(f"image {i}: expected (M, N, 3) uint8, got {im.dtype} {im.shape}")
    origins, x = [], margin
    for im in images:
        origins.append((x, margin))
        x += im.shape[1] + margin
    size = (x, max(im.shape[0] for im in images) + 2 * margin)

    def render(y0: int, height: int) -> np.ndarray:
        strip = np.full((height, size[0], 3), 255, dtype=np.uint8)
        for (ox, oy), im in zip(origins, images, strict=True):
            top, bottom = max(y0, oy), min(y0 + height, oy + im.shape[0])
            if bottom > top:
                strip[top - y0 : bottom - y0, ox : ox + im.shape[1]] = im[top - oy : bottom - oy]
        return strip

    write_pyramid(
        path, render, size, kind=kind, tile=256, levels=levels, mpp=mpp, compression=compression
    )
    return origins
