"""Dice and IoU as Keras metrics, registered as serializable (package "segkit").

Both turn the prediction into a mask with :func:`segkit.decision.ops_one_hot_mask`
(binary: probability >= ``threshold``; multi-class: argmax), score every image and every
foreground class, and report the mean over images seen since the last reset.
Empty-ground-truth rule: an image (or class) absent from both the truth and the prediction
scores 1.0; absent from the truth but predicted scores 0.0. The same rule holds in
:mod:`segkit.evaluation`.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from segkit.decision import ops_one_hot_mask
from segkit.losses import foreground, prepare_targets

__all__ = ["Dice", "IoU", "get_metrics"]


class _OverlapMetric(keras.metrics.Metric):
    def __init__(
        self, num_classes: int = 2, threshold: float = 0.5, *, name: str, **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.threshold = float(threshold)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def _score(self, intersection: Any, sum_true: Any, sum_pred: Any) -> Any:
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        t, p = prepare_targets(y_true, y_pred, self.num_classes)
        p = ops_one_hot_mask(p, threshold=self.threshold)
        t, p = foreground(t, p, self.num_classes)
        intersection = ops.sum(t * p, axis=(1, 2))
        sum_true = ops.sum(t, axis=(1, 2))
        sum_pred = ops.sum(p, axis=(1, 2))
        empty = ops.equal(sum_true + sum_pred, 0.0)
        score = self._score(intersection, sum_true, sum_pred)
        per_image = ops.mean(ops.where(empty, 1.0, score), axis=-1)
        self.total.assign_add(ops.sum(per_image))
        self.count.assign_add(ops.cast(ops.shape(per_image)[0], "float32"))

    def result(self) -> Any:
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self) -> None:
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "threshold": self.threshold,
        }


@keras.saving.register_keras_serializable(package="segkit")
class Dice(_OverlapMetric):
    """Mean per-image Dice ``2|A∩B| / (|A|+|B|)`` of the thresholded prediction."""

    def __init__(
        self, num_classes: int = 2, threshold: float = 0.5, *, name: str = "dice", **kwargs: Any
    ) -> None:
        super().__init__(num_classes, threshold, name=name, **kwargs)

    def _score(self, intersection: Any, sum_true: Any, sum_pred: Any) -> Any:
        return ops.divide_no_nan(2.0 * intersection, sum_true + sum_pred)


@keras.saving.register_keras_serializable(package="segkit")
class IoU(_OverlapMetric):
    """Mean per-image IoU (Jaccard) ``|A∩B| / |A∪B|`` of the thresholded prediction."""

    def __init__(
        self, num_classes: int = 2, threshold: float = 0.5, *, name: str = "iou", **kwargs: Any
    ) -> None:
        super().__init__(num_classes, threshold, name=name, **kwargs)

    def _score(self, intersection: Any, sum_true: Any, sum_pred: Any) -> Any:
        return ops.divide_no_nan(intersection, sum_true + sum_pred - intersection)


def get_metrics(num_classes: int, *, threshold: float = 0.5) -> list[keras.metrics.Metric]:
    """``[Dice, IoU]`` for ``num_classes`` classes (logged as ``dice`` and ``iou``)."""
    return [Dice(num_classes, threshold), IoU(num_classes, threshold)]
