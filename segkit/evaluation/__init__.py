"""Scoring predictions: NumPy metrics with a stated empty rule, and data set evaluation."""

from segkit.evaluation.evaluate import EvaluationResult, evaluate, summarize
from segkit.evaluation.scores import (
    dice_score,
    iou_score,
    match_objects,
    object_scores,
    overlap_scores,
    precision_score,
    recall_score,
)

__all__ = [
    "EvaluationResult",
    "evaluate",
    "summarize",
    "dice_score",
    "iou_score",
    "precision_score",
    "recall_score",
    "overlap_scores",
    "match_objects",
    "object_scores",
]
