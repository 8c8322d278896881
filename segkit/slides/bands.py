"""Gaussian blending of sliding windows one horizontal band at a time.

The windows are those of :func:`segkit.inference.tiling.tile_grid`: rows of windows start at
``r_0 < r_1 < ...`` (:func:`~segkit.inference.tiling.tile_starts`), every window ``th`` rows
high. A row of windows starting at ``r_i`` touches rows ``r_i .. r_i + th`` only, and no later
window touches a row above ``r_{i+1}``. So a buffer of ``th`` rows x the full width holds
every running sum still open: after the windows of row ``i`` are added, rows
``r_i .. r_{i+1}`` are final (:meth:`BandBlender.advance` hands them out and shifts the
buffer down). The sums are the same float32 operations, in the same order, as those of
:func:`segkit.inference.tiling.sliding_window` over the whole image, so the blended
probabilities are identical to the in-memory ones.

Memory: ``th x width x (K + 1) x 4`` bytes (K channels of weighted sums and one of weights),
whatever the image height.

:func:`blend_bands` is the loop every slide prediction shares (masks in
:mod:`segkit.slides.predict`, nuclei in :mod:`segkit.slides.cells`): windows read ahead
(:func:`segkit.slides.windows.read_batches`), predicted, blended, and handed out as finished
bands of probabilities.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Band", "BandBlender", "blend_bands", "nearest_index"]


class BandBlender:
    """Running sums of weighted window predictions over one band of ``th`` rows.

    Parameters
    ----------
    width : int
        Columns of the window grid.
    weight : (th, tw) float32 ndarray
        The window weights (:func:`segkit.inference.tiling.gaussian_importance`).
    channels : int
        K, the channels of the model's output.
    top : int
        The image row of the buffer's first row (the first window row's start).
    """

    def __init__(self, width: int, weight: np.ndarray, channels: int, top: int = 0) -> None:
        th = weight.shape[0]
        self.weight = weight
        self.top = int(top)
        self.total = np.zeros((th, width, channels), dtype=np.float32)
        self.norm = np.zeros((th, width), dtype=np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes held by the band buffer."""
        return int(self.total.nbytes + self.norm.nbytes)

    def add(self, row: int, col: int, prediction: np.ndarray) -> None:
        """Add one window's ``(th, tw, K)`` prediction; ``row`` must be :attr:`top`."""
        if row != self.top:
            raise ValueError(f"a window at row {row} does not start the band at {self.top}")
        th, tw = self.weight.shape
        self.total[:, col : col + tw] += prediction * self.weight[..., None]
        self.norm[:, col : col + tw] += self.weight

    def advance(self, next_top: int) -> tuple[np.ndarray, np.ndarray]:
        """Hand out the final rows ``top .. next_top`` and move the band down to ``next_top``.

        Returns
        -------
        proba : (n, width, K) float32 ndarray
            The blended probabilities (``sum / weight``); 0 where no window was predicted.
        covered : (n, width) bool ndarray
            Where at least one window was predicted.
        """
        th = self.norm.shape[0]
        n = int(next_top) - self.top
        if not 0 < n <= th:
            raise ValueError(f"advance from row {self.top} to {next_top}: expected 1..{th} rows")
        total, norm = self.total[:n].copy(), self.norm[:n].copy()
        covered = norm > 0
        norm[~covered] = 1.0
        total /= norm[..., None]
        self.total[: th - n] = self.total[n:]
        self.total[th - n :] = 0.0
        self.norm[: th - n] = self.norm[n:]
        self.norm[th - n :] = 0.0
        self.top = int(next_top)
        return total, covered


def nearest_index(size_out: int, size_in: int) -> np.ndarray:
    """For each of ``size_out`` pixels, the one of ``size_in`` under its centre (nearest).

    The rule of :func:`segkit.imaging.resize_mask` for non-uint8 masks:
    ``floor((i + 0.5) * size_in / size_out)``.
    """
    idx = ((np.arange(size_out) + 0.5) * (size_in / size_out)).astype(np.intp)
    return np.minimum(idx, size_in - 1)


@dataclass
class Band:
    """The finished rows of one row of windows (all in model pixels).

    Attributes
    ----------
    index : int
        The window row.
    top : int
        The model row of ``proba[0]``.
    proba : (n, Wm, K) float32 ndarray
        Blended probabilities of rows ``top .. top + n`` (``n`` is 0 for a band wholly
        below the slide, where the grid is a window taller than the slide).
    covered : (n, Wm) bool ndarray
        Where at least one window was predicted.
    predicted, skipped : int
        Windows of this row predicted, and skipped over glass.
    """

    index: int
    top: int
    proba: np.ndarray
    covered: np.ndarray
    predicted: int
    skipped: int


def blend_bands(
    model: Any,
    slide: Any,
    plan: Any,
    blender: BandBlender,
    *,
    test: Any,
    color_model: str,
    batch_size: int,
    start: int = 0,
    bar: Any = None,
    stain: Any = None,
) -> Iterator[Band]:
    """Predict a slide's windows row by row and yield its finished bands from ``start`` on.

    The windows of earlier rows that reach into band ``start`` are predicted again (their
    bands are blended but not yielded), so a resumed band is the same as a fresh one.
    ``test`` is a :data:`segkit.slides.windows.TissueTest`; ``bar`` (a tqdm) is advanced by
    the windows looked at; ``stain`` goes to :func:`~segkit.slides.windows.read_batches`.
    Memory: the blender's buffer, whatever the slide's height.
    """
    from segkit.slides.windows import Batch, read_batches

    rows, th = plan.rows, plan.tile[0]
    hm, wm = plan.model_size
    if start >= len(rows):
        return
    nexts = list(rows[1:]) + [plan.grid_size[0]]
    first = next(j for j in range(start + 1) if rows[j] + th > rows[start])
    blender.top = rows[first]
    items = read_batches(
        slide, plan, test=test, color_model=color_model, batch_size=batch_size, start_row=first,
        stain=stain,
    )  # fmt: skip
    for item in items:
        if bar is not None:
            bar.update(item.examined)
        if isinstance(item, Batch):
            pred = np.asarray(model.predict_on_batch(item.pixels), dtype=np.float32)
            for n, c in enumerate(item.cols):
                blender.add(rows[item.row], c, pred[n])
            continue
        i = item.row
        proba, covered = blender.advance(nexts[i])
        if i < start:
            continue
        n = max(0, min(nexts[i], hm) - rows[i])
        yield Band(i, rows[i], proba[:n, :wm], covered[:n, :wm], item.predicted, item.skipped)
