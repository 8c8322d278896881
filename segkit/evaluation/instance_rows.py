"""Instance and point scores of one evaluated image, and their pooled counts.

:func:`instance_row` is what :func:`segkit.evaluation.evaluate` adds to an image's row when it
separates objects: AJI, PQ / DQ / SQ and precision / recall / F1 at IoU 0.5 against the true
instance labels, and point detection against annotated points (see
:mod:`segkit.evaluation.instance_scores` for the definitions and the empty rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segkit.evaluation.instance_scores import (
    aggregated_jaccard_index,
    f1_at_iou,
    panoptic_quality,
    point_detection_scores,
)

__all__ = ["INSTANCE_KEYS", "instance_row", "pooled_points"]

INSTANCE_KEYS = (
    "aji", "pq", "dq", "sq", "f1_at_0.5", "precision_at_0.5", "recall_at_0.5",
    "point_precision", "point_recall", "point_f1", "pred_objects",
)  # fmt: skip


def instance_row(
    pred_labels: np.ndarray,
    true_labels: np.ndarray | None,
    points: np.ndarray,
    *,
    radius: float,
) -> dict[str, Any]:
    """Scores of one image's predicted objects against whatever truth the pair has."""
    row: dict[str, Any] = {"pred_objects": int(len(np.unique(pred_labels[pred_labels > 0])))}
    if true_labels is not None:
        f1 = f1_at_iou(true_labels, pred_labels, iou_threshold=0.5)
        row |= {"aji": aggregated_jaccard_index(true_labels, pred_labels)}
        row |= panoptic_quality(true_labels, pred_labels)
        row |= {"f1_at_0.5": f1["f1"], "precision_at_0.5": f1["precision"],
                "recall_at_0.5": f1["recall"]}  # fmt: skip
    if len(points):
        found = point_detection_scores(points, pred_labels, radius=radius)
        row |= {f"point_{k}": v for k, v in found.items() if k in ("precision", "recall", "f1")}
        row |= {f"point_{k}": int(found[k]) for k in ("tp", "fp", "fn") if k in found}
    return row


def pooled_points(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Point detection counts over all images and the scores they give (empty when none)."""
    scored = [r for r in rows if "point_tp" in r]
    if not scored:
        return {}
    tp, fp, fn = (sum(int(r[f"point_{k}"]) for r in scored) for k in ("tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 1.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}
