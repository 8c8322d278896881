"""One stain measurement per slide, so that its windows are normalised alike.

A model trained with stain normalisation (``ModelInfo.stain_normalisation``) measures the
stain of each training image. On a slide the windows are normalised by one measurement of the
whole slide instead of one per window, so that neighbouring windows are not shifted apart (no
seams) and a window of pale tissue is not stretched to look like a dense one. The measurement
is taken on :data:`SAMPLE_WINDOWS` windows over tissue, spread evenly over the window grid and
read at the model's scale: the pixels a thumbnail would blur together (a nucleus is smaller
than a thumbnail pixel) are the ones the stain estimate needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from segkit.slides.base import Slide
from segkit.slides.windows import TissueTest, WindowPlan, looks_like_tissue, read_model_region

__all__ = ["SAMPLE_WINDOWS", "slide_normaliser", "sample_windows"]

#: Windows over tissue whose pixels measure a slide's stain.
SAMPLE_WINDOWS = 8
_LOOKS = 4  # windows read, per sample window wanted, when no tissue mask says where tissue is


def _spread(items: list[tuple[int, int]], k: int) -> list[tuple[int, int]]:
    if len(items) <= k:
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, k).round()]


def sample_windows(
    slide: Slide, plan: WindowPlan, test: TissueTest, *, windows: int = SAMPLE_WINDOWS
) -> np.ndarray | None:
    """Up to ``windows`` tissue windows of the plan stacked into one ``(k * th, tw, 3)`` uint8
    image (the same windows on every call), or None when no window shows tissue."""
    grid = [(r, c) for r in plan.rows for c in plan.cols]
    known = [w for w in grid if test(*w) is not False]
    marked = [w for w in known if test(*w) is True]
    picked: list[np.ndarray] = []
    if marked:
        picked = [read_model_region(slide, plan, w, plan.tile) for w in _spread(marked, windows)]
    else:
        for w in _spread(known, windows * _LOOKS):
            rgb = read_model_region(slide, plan, w, plan.tile)
            if looks_like_tissue(rgb):
                picked.append(rgb)
        picked = picked[:: max(1, len(picked) // windows)][:windows]
    return np.concatenate(picked, axis=0) if picked else None


def slide_normaliser(
    slide: Slide, plan: WindowPlan, info: Any, test: TissueTest
) -> Callable[[np.ndarray], np.ndarray] | None:
    """The function applied to every RGB window of ``slide`` before the model, or None when
    ``info.stain_normalisation`` is none (see the module)."""
    norm = getattr(info, "stain_normalisation", None)
    if norm is None or norm.is_none:
        return None
    from segkit.stain_normalisation import stain_normaliser

    sample = sample_windows(slide, plan, test)
    if sample is None:
        return None
    return stain_normaliser(norm, sample)
