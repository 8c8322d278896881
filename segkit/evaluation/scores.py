"""Segmentation metrics on NumPy masks: pixel overlap per image, and object matching.

The empty rule, used everywhere in segkit: when a score is 0/0 (nothing in the truth and
nothing in the prediction), it is 1.0; when only one side is empty, the score is 0.0. So an
image without any foreground scores 1.0 when the prediction is empty too and 0.0 when
anything is predicted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

__all__ = [
    "dice_score",
    "iou_score",
    "precision_score",
    "recall_score",
    "overlap_scores",
    "match_objects",
    "object_scores",
]


def _binary_pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true) > 0
    p = np.asarray(y_pred) > 0
    if t.shape != p.shape:
        raise ValueError(f"mask shapes differ: truth {t.shape}, prediction {p.shape}")
    return t, p


def _ratio(num: float, den: float, both_empty: bool) -> float:
    if den == 0:
        return 1.0 if both_empty else 0.0
    return float(num) / float(den)


def _counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int]:
    t, p = _binary_pair(y_true, y_pred)
    tp = int(np.count_nonzero(t & p))
    return tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(t)) - tp


def dice_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Dice ``2|T∩P| / (|T|+|P|)`` of two binary masks (non-zero = foreground).

    Parameters
    ----------
    y_true, y_pred : (M, N) ndarray

    Returns
    -------
    float
        In [0, 1]; 1.0 when both masks are empty.
    """
    tp, fp, fn = _counts(y_true, y_pred)
    return _ratio(2 * tp, 2 * tp + fp + fn, tp + fp + fn == 0)


def iou_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Intersection over union (Jaccard); 1.0 when both masks are empty."""
    tp, fp, fn = _counts(y_true, y_pred)
    return _ratio(tp, tp + fp + fn, tp + fp + fn == 0)


def precision_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``TP / (TP + FP)``; with an empty prediction: 1.0 if the truth is empty too, else 0.0."""
    tp, fp, fn = _counts(y_true, y_pred)
    return _ratio(tp, tp + fp, tp + fp + fn == 0)


def recall_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``TP / (TP + FN)``; with an empty truth: 1.0 if the prediction is empty too, else 0.0."""
    tp, fp, fn = _counts(y_true, y_pred)
    return _ratio(tp, tp + fn, tp + fp + fn == 0)


def overlap_scores(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 2, *, class_names: Any = None
) -> dict[str, float]:
    """Dice, IoU, precision and recall of class-index masks.

    Binary: scores of class 1. Multi-class: the mean over the foreground classes 1..K-1,
    plus ``dice_<name>`` and ``iou_<name>`` per class.
    """
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if num_classes == 2:
        return {
            "dice": dice_score(t, p),
            "iou": iou_score(t, p),
            "precision": precision_score(t, p),
            "recall": recall_score(t, p),
        }
    names = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]
    per: dict[str, list[float]] = {"dice": [], "iou": [], "precision": [], "recall": []}
    extra: dict[str, float] = {}
    for k in range(1, num_classes):
        tk, pk = t == k, p == k
        scores = {
            "dice": dice_score(tk, pk),
            "iou": iou_score(tk, pk),
            "precision": precision_score(tk, pk),
            "recall": recall_score(tk, pk),
        }
        for key, value in scores.items():
            per[key].append(value)
        extra[f"dice_{names[k]}"] = scores["dice"]
        extra[f"iou_{names[k]}"] = scores["iou"]
    return {key: float(np.mean(values)) for key, values in per.items()} | extra


def match_objects(
    y_true: np.ndarray, y_pred: np.ndarray, *, iou_threshold: float = 0.5
) -> tuple[int, int, int]:
    """Match connected components of two masks one to one at IoU >= ``iou_threshold``.

    Objects are the 8-connected components of the foreground (non-zero) pixels; pairs are
    taken greedily from the highest IoU down, each object in at most one pair.

    Returns
    -------
    (tp, fp, fn) : tuple of int
        Matched pairs, unmatched predicted objects, unmatched true objects.
    """
    t, p = _binary_pair(y_true, y_pred)
    structure = np.ones((3, 3), dtype=bool)
    lt, nt = ndimage.label(t, structure=structure)
    lp, np_ = ndimage.label(p, structure=structure)
    if nt == 0 or np_ == 0:
        return 0, int(np_), int(nt)
    area_t = np.bincount(lt.ravel(), minlength=nt + 1)
    area_p = np.bincount(lp.ravel(), minlength=np_ + 1)
    both = (lt > 0) & (lp > 0)
    pair_ids = lt[both].astype(np.int64) * (np_ + 1) + lp[both]
    ids, inter = np.unique(pair_ids, return_counts=True)
    it, ip = ids // (np_ + 1), ids % (np_ + 1)
    iou = inter / (area_t[it] + area_p[ip] - inter)
    keep = iou >= iou_threshold
    order = np.argsort(-iou[keep], kind="stable")
    used_t: set[int] = set()
    used_p: set[int] = set()
    for a, b in zip(it[keep][order], ip[keep][order]):
        if a not in used_t and b not in used_p:
            used_t.add(int(a))
            used_p.add(int(b))
    tp = len(used_t)
    return tp, int(np_) - tp, int(nt) - tp


def object_scores(
    y_true: np.ndarray, y_pred: np.ndarray, *, iou_threshold: float = 0.5
) -> dict[str, float]:
    """Object-level precision, recall and F1 (see :func:`match_objects`), with the counts.

    No objects on either side scores 1.0 (the empty rule).
    """
    tp, fp, fn = match_objects(y_true, y_pred, iou_threshold=iou_threshold)
    return {
        "object_tp": tp,
        "object_fp": fp,
        "object_fn": fn,
        **_object_ratios(tp, fp, fn),
    }


def _object_ratios(tp: int, fp: int, fn: int) -> dict[str, float]:
    empty = tp + fp + fn == 0
    return {
        "object_precision": _ratio(tp, tp + fp, empty),
        "object_recall": _ratio(tp, tp + fn, empty),
        "object_f1": _ratio(2 * tp, 2 * tp + fp + fn, empty),
    }
