"""Pictures of images, masks, predictions, training curves and metric distributions.

- :mod:`~segkit.viz.overlays`: NumPy only. :func:`colorize_mask`, :func:`blend_overlay`,
  :func:`mask_boundaries` return ``uint8`` RGB arrays or boolean edges; the widgets and the
  prediction overlays use them directly.
- :mod:`~segkit.viz.figures`: matplotlib figures built without pyplot (:func:`overlay`,
  :func:`prediction_grid`, :func:`plot_history`, :func:`plot_metric_distribution`).

The figures are imported on first use, so the overlays work without loading matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from segkit.viz.overlays import (
    CLASS_COLOURS,
    as_label_mask,
    blend_overlay,
    colorize_mask,
    mask_boundaries,
)

if TYPE_CHECKING:
    from segkit.viz.figures import (
        load_history,
        overlay,
        plot_history,
        plot_metric_distribution,
        prediction_grid,
    )

__all__ = [
    "CLASS_COLOURS",
    "as_label_mask",
    "colorize_mask",
    "mask_boundaries",
    "blend_overlay",
    "overlay",
    "prediction_grid",
    "load_history",
    "plot_history",
    "plot_metric_distribution",
]

_FIGURES = (
    "overlay",
    "prediction_grid",
    "load_history",
    "plot_history",
    "plot_metric_distribution",
)


def __getattr__(name: str) -> Any:
    if name in _FIGURES:
        return getattr(importlib.import_module("segkit.viz.figures"), name)
    raise AttributeError(f"module 'segkit.viz' has no attribute {name!r}")
