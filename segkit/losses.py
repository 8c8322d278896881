"""Segmentation losses written with ``keras.ops``, registered as serializable (package "segkit").

Conventions shared by every loss and metric of segkit:

- ``y_true`` holds class indices, ``(B, H, W)`` or ``(B, H, W, 1)``, any numeric dtype
  (binary: 0/1; any value > 0.5 counts as foreground).
- ``y_pred`` holds probabilities: ``(B, H, W, 1)`` foreground probability for two classes
  (sigmoid head), ``(B, H, W, K)`` for K > 2 classes (softmax head).
- Dice is computed per image and per foreground class, with a smoothing term of 1 pixel in
  numerator and denominator, so an empty ground truth with an empty prediction scores 1
  (loss 0), and an empty ground truth with a full prediction scores almost 0.

Importing this module registers the classes, so a model compiled with them and saved with
``model.save`` loads with plain ``keras.models.load_model`` once ``segkit.losses`` is imported.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = [
    "LOSS_NAMES",
    "DiceLoss",
    "CrossEntropyLoss",
    "FocalLoss",
    "CrossEntropyDiceLoss",
    "get_loss",
    "prepare_targets",
    "foreground",
    "soft_dice",
]

LOSS_NAMES = ("bce", "ce", "dice", "bce_dice", "ce_dice", "focal")
_EPS = 1e-7


def _check_num_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes counts the background and must be >= 2, got {num_classes!r}")
    return num_classes


def prepare_targets(y_true: Any, y_pred: Any, num_classes: int) -> tuple[Any, Any]:
    """Bring ``y_true`` and ``y_pred`` to float32 tensors of the same shape ``(B, H, W, C)``.

    ``y_true`` holds class indices, ``(B, H, W)`` or ``(B, H, W, 1)`` (its rank may even be
    unknown while a ``tf.function`` traces). Binary (``num_classes == 2``): ``C = 1``, the
    foreground. Otherwise ``C = K`` one-hot.
    """
    y_pred = ops.cast(y_pred, "float32")
    if len(y_pred.shape) == 3:
        y_pred = ops.expand_dims(y_pred, -1)
    shape = ops.shape(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if num_classes == 2:
        y_true = ops.reshape(ops.cast(y_true, "float32"), shape)
        return ops.cast(ops.greater(y_true, 0.5), "float32"), y_pred
    indices = ops.reshape(ops.cast(y_true, "int32"), shape[:-1])
    return ops.one_hot(indices, num_classes, dtype="float32"), y_pred


def foreground(y_true: Any, y_pred: Any, num_classes: int) -> tuple[Any, Any]:
    """The foreground channels (all but the background for K > 2) of prepared tensors."""
    if num_classes == 2:
        return y_true, y_pred
    return y_true[..., 1:], y_pred[..., 1:]


def soft_dice(y_true: Any, y_pred: Any, smooth: float = 1.0) -> Any:
    """Per-image soft Dice averaged over channels: ``(B,)``. Inputs ``(B, H, W, C)`` float."""
    axes = (1, 2)
    intersection = ops.sum(y_true * y_pred, axis=axes)
    total = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
    dice = (2.0 * intersection + smooth) / (total + smooth)
    return ops.mean(dice, axis=-1)


def _cross_entropy(y_true: Any, y_pred: Any, num_classes: int) -> Any:
    p = ops.clip(y_pred, _EPS, 1.0 - _EPS)
    if num_classes == 2:
        ce = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
        return ops.mean(ce, axis=(1, 2, 3))
    ce = -ops.sum(y_true * ops.log(p), axis=-1)
    return ops.mean(ce, axis=(1, 2))


class _SegmentationLoss(keras.losses.Loss):
    def __init__(self, num_classes: int = 2, *, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.num_classes = _check_num_classes(num_classes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="segkit")
class DiceLoss(_SegmentationLoss):
    """``1 - soft Dice`` per image over the foreground class(es).

    Parameters
    ----------
    num_classes : int
        Classes including the background.
    smooth : float
        Added to numerator and denominator; makes empty-vs-empty a perfect score.
    """

    def __init__(
        self, num_classes: int = 2, smooth: float = 1.0, *, name: str = "dice_loss", **kwargs: Any
    ) -> None:
        super().__init__(num_classes, name=name, **kwargs)
        self.smooth = float(smooth)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        t, p = prepare_targets(y_true, y_pred, self.num_classes)
        t, p = foreground(t, p, self.num_classes)
        return 1.0 - soft_dice(t, p, self.smooth)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="segkit")
class CrossEntropyLoss(_SegmentationLoss):
    """Pixel-wise cross-entropy: binary for two classes, categorical for more."""

    def __init__(self, num_classes: int = 2, *, name: str = "ce_loss", **kwargs: Any) -> None:
        super().__init__(num_classes, name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        t, p = prepare_targets(y_true, y_pred, self.num_classes)
        return _cross_entropy(t, p, self.num_classes)


@keras.saving.register_keras_serializable(package="segkit")
class CrossEntropyDiceLoss(_SegmentationLoss):
    """``ce_weight * cross-entropy + dice_weight * (1 - soft Dice)``."""

    def __init__(
        self,
        num_classes: int = 2,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        smooth: float = 1.0,
        *,
        name: str = "ce_dice_loss",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, name=name, **kwargs)
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)
        self.smooth = float(smooth)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        t, p = prepare_targets(y_true, y_pred, self.num_classes)
        ce = _cross_entropy(t, p, self.num_classes)
        ft, fp = foreground(t, p, self.num_classes)
        return self.ce_weight * ce + self.dice_weight * (1.0 - soft_dice(ft, fp, self.smooth))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "ce_weight": self.ce_weight,
            "dice_weight": self.dice_weight,
            "smooth": self.smooth,
        }


@keras.saving.register_keras_serializable(package="segkit")
class FocalLoss(_SegmentationLoss):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by ``(1 - p_t) ** gamma``.

    Parameters
    ----------
    gamma : float
        Focusing exponent; 0 gives plain cross-entropy.
    alpha : float, optional
        Binary only: weight of the foreground (``1 - alpha`` for the background).
        ``None``: no class weighting.
    """

    def __init__(
        self,
        num_classes: int = 2,
        gamma: float = 2.0,
        alpha: float | None = 0.25,
        *,
        name: str = "focal_loss",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, name=name, **kwargs)
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        t, p = prepare_targets(y_true, y_pred, self.num_classes)
        p = ops.clip(p, _EPS, 1.0 - _EPS)
        if self.num_classes == 2:
            p_t = t * p + (1.0 - t) * (1.0 - p)
            loss = -ops.power(1.0 - p_t, self.gamma) * ops.log(p_t)
            if self.alpha is not None:
                loss = loss * (t * self.alpha + (1.0 - t) * (1.0 - self.alpha))
            return ops.mean(loss, axis=(1, 2, 3))
        loss = -ops.sum(t * ops.power(1.0 - p, self.gamma) * ops.log(p), axis=-1)
        return ops.mean(loss, axis=(1, 2))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha}


def get_loss(name: str, num_classes: int) -> keras.losses.Loss:
    """A loss by name.

    Parameters
    ----------
    name : {'bce', 'ce', 'dice', 'bce_dice', 'ce_dice', 'focal'}
        ``bce`` and ``ce`` are the same cross-entropy (binary for two classes, categorical for
        more), as are ``bce_dice`` and ``ce_dice``.
    num_classes : int
        Classes including the background.
    """
    num_classes = _check_num_classes(num_classes)
    key = str(name).strip().lower().replace("-", "_").replace("+", "_")
    if key in ("bce", "ce"):
        return CrossEntropyLoss(num_classes)
    if key == "dice":
        return DiceLoss(num_classes)
    if key in ("bce_dice", "ce_dice"):
        return CrossEntropyDiceLoss(num_classes)
    if key == "focal":
        return FocalLoss(num_classes, alpha=0.25 if num_classes == 2 else None)
    raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSS_NAMES)}")
