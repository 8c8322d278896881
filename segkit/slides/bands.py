"""Gaussian blending of sliding windows one horizontal band at a time, only where predicted.

The windows are those of :func:`segkit.inference.tiling.tile_grid`: rows of windows start at
``r_0 < r_1 < ...`` (:func:`~segkit.inference.tiling.tile_starts`), every window ``th`` rows
high. A row of windows starting at ``r_i`` touches rows ``r_i .. r_i + th`` only, and no later
window touches a row above ``r_{i+1}``. So a buffer of ``th`` rows holds every running sum
still open: after the windows of row ``i`` are added, rows ``r_i .. r_{i+1}`` are final
(:meth:`BandBlender.advance_spans` hands them out and shifts the buffer down). The sums are
the same float32 operations, in the same order, as those of
:func:`segkit.inference.tiling.sliding_window` over the whole image, so the blended
probabilities are identical to the in-memory ones.

The buffer is kept in blocks of :attr:`BandBlender.block` columns, allocated when a window
first reaches them and dropped when no window still open does: a slide that is mostly glass
holds (and divides, decides, writes) only the columns under its tissue windows.

Memory: ``th x B x (K + 1) x 4`` bytes per block in use (K channels of weighted sums and one
of weights), whatever the image's height and, for the same tissue, its width.

:func:`blend_bands` is the loop every slide prediction shares (masks in
:mod:`segkit.slides.predict`, nuclei in :mod:`segkit.slides.cells`): windows read ahead
(:func:`segkit.slides.windows.read_batches`), predicted, blended, and handed out as finished
bands of probabilities, as column spans.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Band", "BandBlender", "Span", "blend_bands", "nearest_index"]


class Span(NamedTuple):
    """Finished rows of a run of columns: ``proba[:, j]`` is column ``col + j``."""

    col: int
    proba: np.ndarray  # (n, w, K) float32, 0 where no window was predicted
    covered: np.ndarray  # (n, w) bool: at least one window was predicted


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
    block : int, optional
        Columns per buffer block (default: the window width, at least 64).
    """

    def __init__(
        self, width: int, weight: np.ndarray, channels: int, top: int = 0, *, block: int = 0
    ) -> None:
        self.weight = weight
        self.top = int(top)
        self.width = int(width)
        self.channels = int(channels)
        self.block = int(block) if block else max(64, int(weight.shape[1]))
        self._sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # block -> (total, norm)
        self._until: dict[int, int] = {}  # block -> the end row of the last window in it
        self.peak_nbytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the band buffer now (the blocks in use)."""
        return sum(int(t.nbytes + n.nbytes) for t, n in self._sums.values())

    @property
    def block_nbytes(self) -> int:
        """Bytes of one full block."""
        return self.weight.shape[0] * self.block * (self.channels + 1) * 4

    def _sums_of(self, b: int, until: int) -> tuple[np.ndarray, np.ndarray]:
        found = self._sums.get(b)
        if found is None:
            th, w = self.weight.shape[0], min(self.block, self.width - b * self.block)
            found = np.zeros((th, w, self.channels), np.float32), np.zeros((th, w), np.float32)
            self._sums[b] = found
            self.peak_nbytes = max(self.peak_nbytes, self.nbytes)
        self._until[b] = until
        return found

    def add(self, row: int, col: int, prediction: np.ndarray) -> None:
        """Add one window's ``(th, tw, K)`` prediction; ``row`` must be :attr:`top`."""
        if row != self.top:
            raise ValueError(f"a window at row {row} does not start the band at {self.top}")
        th, tw = self.weight.shape
        if not 0 <= col <= self.width - tw:
            raise ValueError(f"a window at column {col} leaves the {self.width} columns")
        weighted = prediction * self.weight[..., None]
        step = self.block
        for b in range(col // step, (col + tw - 1) // step + 1):
            total, norm = self._sums_of(b, row + th)
            a0, a1 = max(col, b * step), min(col + tw, (b + 1) * step)
            total[:, a0 - b * step : a1 - b * step] += weighted[:, a0 - col : a1 - col]
            norm[:, a0 - b * step : a1 - b * step] += self.weight[:, a0 - col : a1 - col]

    def advance_spans(self, next_top: int) -> list[Span]:
        """Hand out the final rows ``top .. next_top`` and move the band down to ``next_top``.

        Returns the runs of blocks in use, left to right: their blended probabilities
        (``sum / weight``, 0 where no window was predicted) and where a window was. Columns
        in no span had no window.
        """
        th = self.weight.shape[0]
        n = int(next_top) - self.top
        if not 0 < n <= th:
            raise ValueError(f"advance from row {self.top} to {next_top}: expected 1..{th} rows")
        spans: list[Span] = []
        blocks = sorted(self._sums)
        while blocks:
            run = 1
            while run < len(blocks) and blocks[run] == blocks[0] + run:
                run += 1
            parts = [self._sums[b] for b in blocks[:run]]
            total = np.concatenate([t[:n] for t, _ in parts], axis=1)
            norm = np.concatenate([w[:n] for _, w in parts], axis=1)
            covered = norm > 0
            norm[~covered] = 1.0
            total /= norm[..., None]
            spans.append(Span(blocks[0] * self.block, total, covered))
            blocks = blocks[run:]
        for b in list(self._sums):
            if self._until[b] <= next_top:  # no open window reaches it: all zeros now
                del self._sums[b], self._until[b]
                continue
            total, norm = self._sums[b]
            total[: th - n] = total[n:]
            total[th - n :] = 0.0
            norm[: th - n] = norm[n:]
            norm[th - n :] = 0.0
        self.top = int(next_top)
        return spans

    def advance(self, next_top: int) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`advance_spans`, as full-width arrays.

        Returns
        -------
        proba : (n, width, K) float32 ndarray
            The blended probabilities (``sum / weight``); 0 where no window was predicted.
        covered : (n, width) bool ndarray
            Where at least one window was predicted.
        """
        n = int(next_top) - self.top
        spans = self.advance_spans(next_top)
        return _dense(spans, n, self.width, self.channels)


def _dense(spans: list[Span], n: int, width: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    proba = np.zeros((n, width, channels), dtype=np.float32)
    covered = np.zeros((n, width), dtype=bool)
    for s in spans:
        w = s.proba.shape[1]
        proba[:, s.col : s.col + w] = s.proba
        covered[:, s.col : s.col + w] = s.covered
    return proba, covered


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
        The model row of the band's first row.
    height : int
        Rows of the band (0 for a band wholly below the slide, where the grid is a window
        taller than the slide).
    width : int
        Columns of the slide in model pixels.
    spans : list of Span
        The blended probabilities where windows were (left to right; glass elsewhere).
    predicted, skipped : int
        Windows of this row predicted, and skipped over glass.
    channels : int
        K, the channels of the probabilities.
    """

    index: int
    top: int
    height: int
    width: int
    spans: list[Span]
    predicted: int
    skipped: int
    channels: int = field(default=1)

    @cached_property
    def _full(self) -> tuple[np.ndarray, np.ndarray]:
        return _dense(self.spans, self.height, self.width, self.channels)

    @property
    def proba(self) -> np.ndarray:
        """``(height, width, K)`` float32: the probabilities over the whole width (0 on glass)."""
        return self._full[0]

    @property
    def covered(self) -> np.ndarray:
        """``(height, width)`` bool: where at least one window was predicted."""
        return self._full[1]


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
    Memory: the blender's blocks in use, whatever the slide's height.
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
            for k, c in enumerate(item.cols):
                blender.add(rows[item.row], c, pred[k])
            continue
        i = item.row
        spans = blender.advance_spans(nexts[i])
        if i < start:
            continue
        n = max(0, min(nexts[i], hm) - rows[i])
        kept = [
            Span(s.col, s.proba[:n, : wm - s.col], s.covered[:n, : wm - s.col])
            for s in spans
            if s.col < wm and n
        ]
        yield Band(i, rows[i], n, wm, kept, item.predicted, item.skipped, blender.channels)
