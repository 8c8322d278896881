"""Boundary distances between two masks: the 95th-percentile Hausdorff distance and the average
symmetric surface distance, as MONAI and the medical segmentation challenges define them.

Dice counts pixels; these measure how far an outline is from where it should be, so a
prediction that is right in area but shifted, or that adds a small blob far from any object,
shows here and not in Dice.

- The *surface* of a mask is its foreground pixels (non-zero) with at least one of their four
  neighbours in the background; the image's edge counts as background.
- The distance of a surface pixel to the other mask is the Euclidean distance from its centre to
  the nearest surface pixel centre of the other mask (``scipy.ndimage.distance_transform_edt``),
  in pixels times ``spacing``.
- ``hd95``: the larger of the two directed 95th percentiles (truth to prediction and prediction
  to truth); ``hausdorff``: the larger of the two directed maxima; ``assd``: the mean of all
  distances of both directions together.

The empty rule for distances: both masks empty is a perfect 0.0; exactly one empty has no
boundary to measure against, so every distance is NaN (undefined).
:func:`segkit.evaluation.summarize` averages over the images where it is defined and counts the
others.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["DISTANCE_KEYS", "boundary_distances", "surface"]

DISTANCE_KEYS = ("hd95", "hausdorff", "assd")


def surface(mask: np.ndarray) -> np.ndarray:
    """The foreground pixels of ``mask`` (non-zero) that touch the background (4-neighbours)."""
    m = np.asarray(mask) > 0
    return m & ~ndimage.binary_erosion(m, border_value=0)


def boundary_distances(
    y_true: np.ndarray, y_pred: np.ndarray, *, spacing: float | tuple[float, float] = 1.0
) -> dict[str, float]:
    """``hd95``, ``hausdorff`` and ``assd`` between the foregrounds of two masks.

    Parameters
    ----------
    y_true, y_pred : (M, N) ndarray
        Masks of the same shape; any non-zero value is foreground (a multi-class mask is
        measured on the union of its classes).
    spacing : float or (float, float)
        Size of a pixel (rows, columns), e.g. µm per pixel; 1.0 gives pixels.

    Returns
    -------
    dict
        The three distances in the unit of ``spacing``: 0.0 when both masks are empty, NaN when
        only one is.
    """
    t, p = np.asarray(y_true) > 0, np.asarray(y_pred) > 0
    if t.shape != p.shape or t.ndim != 2:
        raise ValueError(
            f"mask shapes differ or are not 2-D: truth {t.shape}, prediction {p.shape}"
        )
    if not t.any() and not p.any():
        return dict.fromkeys(DISTANCE_KEYS, 0.0)
    if not t.any() or not p.any():
        return dict.fromkeys(DISTANCE_KEYS, float("nan"))
    sampling = (spacing, spacing) if isinstance(spacing, int | float) else tuple(spacing)
    st, sp = surface(t), surface(p)
    to_pred = ndimage.distance_transform_edt(~sp, sampling=sampling)[st]
    to_true = ndimage.distance_transform_edt(~st, sampling=sampling)[sp]
    both = np.concatenate([to_pred, to_true])
    return {
        "hd95": float(max(np.percentile(to_pred, 95), np.percentile(to_true, 95))),
        "hausdorff": float(max(to_pred.max(), to_true.max())),
        "assd": float(both.mean()),
    }
