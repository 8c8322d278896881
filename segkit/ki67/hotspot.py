"""The Ki-67 hot spot of a slide, and its map of the local index.

Cells are counted on a grid of square bins (:class:`CellGrid`, 50 µm a side by default) as
they stream past; nothing else of them is kept.

The hot spot rule (:func:`find_hotspot`): the square windows are those of ``n x n`` whole
bins, at every bin position. ``n`` grows from 1 until some window holds at least
``min_cells`` tumour cells (500, the guidelines' minimum); among the windows of that
smallest ``n`` with enough cells, the hot spot is the one with the highest Ki-67 index
(ties: more cells, then the first in row order). Its index is ``100 * positive / total`` of
exactly the cells whose centroids fall in its bins. A slide with fewer cells than
``min_cells`` has no hot spot.

:func:`draw_heatmap` paints the local index over the slide's thumbnail (blue 0 % to red
100 %): for each bin with cells, that of the 5 x 5 bins (250 µm) around it, where they hold at
least 20 cells; elsewhere the thumbnail shows in grey.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["BIN_UM", "HOTSPOT_COLUMNS", "CellGrid", "Hotspot", "draw_heatmap", "find_hotspot"]

#: Side of a counting bin in microns.
BIN_UM = 50.0
#: Side of a bin in level-0 pixels when the slide's microns per pixel are unknown.
BIN_PX = 200
#: The summary columns of the hot spot (centre and side in µm from the slide's top-left).
HOTSPOT_COLUMNS = (
    "hotspot_ki67_index",
    "hotspot_cells",
    "hotspot_x_um",
    "hotspot_y_um",
    "hotspot_size_um",
)


class CellGrid:
    """Tumour cells and positive cells counted per square bin of a slide.

    Parameters
    ----------
    size : (int, int)
        ``(width, height)`` of the slide's level 0 in pixels.
    mpp : float, optional
        Microns per level-0 pixel; without it bins are :data:`BIN_PX` pixels a side.
    bin_um : float
        Bin side in microns.
    """

    def __init__(self, size: tuple[int, int], mpp: float | None, *, bin_um: float = BIN_UM):
        if not bin_um > 0:
            raise ValueError(f"bin_um must be > 0 microns, got {bin_um!r}")
        self.mpp = mpp
        self.bin_px = bin_um / mpp if mpp else float(BIN_PX)
        shape = (max(1, math.ceil(size[1] / self.bin_px)), max(1, math.ceil(size[0] / self.bin_px)))
        self.total = np.zeros(shape, dtype=np.int64)
        self.positive = np.zeros(shape, dtype=np.int64)

    def add(self, x: np.ndarray, y: np.ndarray, positive: np.ndarray) -> None:
        """Count cells with centroids ``(x, y)`` (level-0 pixels) and their positive flags."""
        rows = np.clip((np.asarray(y) // self.bin_px).astype(np.intp), 0, self.total.shape[0] - 1)
        cols = np.clip((np.asarray(x) // self.bin_px).astype(np.intp), 0, self.total.shape[1] - 1)
        np.add.at(self.total, (rows, cols), 1)
        np.add.at(self.positive, (rows, cols), np.asarray(positive, dtype=np.int64))

    def local_index(self, *, min_cells: int = 20, span: int = 5) -> np.ndarray:
        """Ki-67 index (%) of the ``span x span`` bins centred on each bin (NaN: too few).

        ``span`` is odd (5 bins: 250 µm by default); a bin without cells of its own (glass), or
        whose square holds fewer than ``min_cells`` cells, is NaN.
        """
        if span < 1 or span % 2 == 0:
            raise ValueError(f"span must be an odd number of bins, got {span!r}")
        h = span // 2
        total = _window_sums(np.pad(self.total, h), span)[
            : self.total.shape[0], : self.total.shape[1]
        ]
        positive = _window_sums(np.pad(self.positive, h), span)[: total.shape[0], : total.shape[1]]
        out = np.full(total.shape, np.nan)
        ok = (total >= max(1, min_cells)) & (self.total > 0)
        out[ok] = 100.0 * positive[ok] / total[ok]
        return out


@dataclass(frozen=True)
class Hotspot:
    """The hot spot: a square of ``n x n`` bins from bin ``(row, col)``.

    ``x_um``, ``y_um`` (its centre) and ``size_um`` are NaN when the slide's mpp is unknown;
    ``x_px``, ``y_px`` and ``size_px`` are level-0 pixels (centre and side).
    """

    ki67_index: float
    cells: int
    positive: int
    row: int
    col: int
    n: int
    x_px: float
    y_px: float
    size_px: float
    mpp: float | None

    @property
    def x_um(self) -> float:
        return self.x_px * self.mpp if self.mpp else math.nan

    @property
    def y_um(self) -> float:
        return self.y_px * self.mpp if self.mpp else math.nan

    @property
    def size_um(self) -> float:
        return self.size_px * self.mpp if self.mpp else math.nan

    def to_row(self) -> dict[str, float]:
        """The :data:`HOTSPOT_COLUMNS` of the summary."""
        values = (self.ki67_index, self.cells, self.x_um, self.y_um, self.size_um)
        return dict(zip(HOTSPOT_COLUMNS, values, strict=True))


def _window_sums(grid: np.ndarray, n: int) -> np.ndarray:
    """Sums of every ``n x n`` window of ``grid`` (windows within the zero-padded grid)."""
    rows, cols = grid.shape
    padded = np.zeros((max(rows, n) + 1, max(cols, n) + 1), dtype=np.int64)
    padded[1 : rows + 1, 1 : cols + 1] = grid
    c = padded.cumsum(0).cumsum(1)
    return c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]


def find_hotspot(grid: CellGrid, *, min_cells: int = 500) -> Hotspot | None:
    """The hot spot of ``grid`` by the rule of the module notes; None with too few cells."""
    if min_cells < 1:
        raise ValueError(f"min_cells must be >= 1, got {min_cells!r}")
    if int(grid.total.sum()) < min_cells:
        return None
    for n in range(1, max(grid.total.shape) + 1):
        total = _window_sums(grid.total, n)
        ok = total >= min_cells
        if not ok.any():
            continue
        positive = _window_sums(grid.positive, n)
        index = np.where(ok, positive / np.maximum(total, 1), -1.0)
        # highest index, then more cells, then the first in row order
        order = np.lexsort((-total.ravel(), -index.ravel()))
        r, c = divmod(int(order[0]), total.shape[1])
        side = n * grid.bin_px
        return Hotspot(
            ki67_index=100.0 * float(positive[r, c]) / float(total[r, c]),
            cells=int(total[r, c]),
            positive=int(positive[r, c]),
            row=r,
            col=c,
            n=n,
            x_px=c * grid.bin_px + side / 2,
            y_px=r * grid.bin_px + side / 2,
            size_px=side,
            mpp=grid.mpp,
        )
    return None  # pragma: no cover - the whole grid holds min_cells


def _colour(index: np.ndarray) -> np.ndarray:
    """Blue (0 %) through white-ish violet to red (100 %), ``(..., 3)`` uint8."""
    t = np.clip(np.nan_to_num(index) / 100.0, 0.0, 1.0)[..., None]
    blue, red = np.array([40.0, 80.0, 230.0]), np.array([230.0, 40.0, 30.0])
    return ((1 - t) * blue + t * red).astype(np.uint8)


def draw_heatmap(
    thumbnail: np.ndarray,
    downsample: float,
    grid: CellGrid,
    *,
    min_cells: int = 20,
    span: int = 5,
    alpha: float = 0.6,
    hotspot: Hotspot | None = None,
) -> np.ndarray:
    """The local index over the thumbnail, RGB uint8 of the thumbnail's shape.

    ``downsample`` is level-0 pixels per thumbnail pixel. Each bin shows the index of the
    ``span x span`` bins around it (:meth:`CellGrid.local_index`); where they hold fewer than
    ``min_cells`` cells, the thumbnail shows in grey. The hot spot, if given, is framed in
    black.
    """
    rgb = np.asarray(thumbnail, dtype=np.float32)[..., :3]
    h, w = rgb.shape[:2]
    rows = np.minimum(((np.arange(h) + 0.5) * downsample // grid.bin_px).astype(np.intp),
                      grid.total.shape[0] - 1)  # fmt: skip
    cols = np.minimum(((np.arange(w) + 0.5) * downsample // grid.bin_px).astype(np.intp),
                      grid.total.shape[1] - 1)  # fmt: skip
    index = grid.local_index(min_cells=min_cells, span=span)[np.ix_(rows, cols)]
    grey = rgb.mean(axis=2, keepdims=True) * 0.5 + 110.0
    out = np.broadcast_to(grey, rgb.shape).copy()
    ok = np.isfinite(index)
    out[ok] = (1 - alpha) * rgb[ok] + alpha * _colour(index[ok])
    out = np.clip(out, 0, 255).astype(np.uint8)
    if hotspot is not None:
        y0, x0 = (
            (hotspot.y_px - hotspot.size_px / 2) / downsample,
            (hotspot.x_px - hotspot.size_px / 2) / downsample,
        )
        s = hotspot.size_px / downsample
        r0, c0 = int(max(0, y0)), int(max(0, x0))
        r1, c1 = int(min(h - 1, y0 + s)), int(min(w - 1, x0 + s))
        out[r0 : r1 + 1, [c0, c1]] = 0
        out[[r0, r1], c0 : c1 + 1] = 0
    return out
