"""Scoring predictions: NumPy metrics with a stated empty rule (pixels, objects, instances),
and data set evaluation."""

from segkit.evaluation.distances import boundary_distances
from segkit.evaluation.evaluate import EvaluationResult, evaluate, summarize
from segkit.evaluation.instance_scores import (
    InstanceMatch,
    aggregated_jaccard_index,
    f1_at_iou,
    match_instances,
    panoptic_quality,
    point_detection_scores,
)
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
    "boundary_distances",
    "InstanceMatch",
    "match_instances",
    "f1_at_iou",
    "panoptic_quality",
    "aggregated_jaccard_index",
    "point_detection_scores",
]
