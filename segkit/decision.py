"""When a predicted pixel is foreground: the one rule that turns probabilities into a mask.

The classes lie on the last axis of the model's output:

- one channel (two classes, sigmoid head): foreground (1) where the probability is
  ``>= threshold``, background (0) elsewhere; a probability exactly at the threshold counts;
- K > 1 channels (softmax head): the most probable class (``argmax`` over the last axis).

:func:`probabilities_to_mask` applies it to NumPy arrays (prediction, evaluation, figures),
:func:`ops_probabilities_to_mask` and :func:`ops_one_hot_mask` to ``keras.ops`` tensors (the
Keras metrics and the distributed training loop). Every part of segkit that needs a mask
from probabilities calls one of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "instance_probabilities_to_mask",
    "model_mask",
    "probabilities_to_mask",
    "ops_probabilities_to_mask",
    "ops_one_hot_mask",
]

_MAX_CLASSES = 256  # class indices are uint8


def probabilities_to_mask(probs: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """Class-index mask of predicted probabilities.

    Parameters
    ----------
    probs : (..., C) ndarray
        Probabilities with the classes on the last axis: ``C = 1`` is the foreground
        probability of a sigmoid head, ``C > 1`` the class probabilities of a softmax head.
    threshold : float
        ``C = 1`` only: foreground where ``probs >= threshold`` (compared in the dtype of
        ``probs``, as :func:`ops_probabilities_to_mask` does).

    Returns
    -------
    (...) uint8 ndarray
        Class indices (0/1 for ``C = 1``, the argmax otherwise); the last axis is dropped.
    """
    arr = np.asarray(probs)
    if arr.ndim < 1 or not 1 <= arr.shape[-1] <= _MAX_CLASSES:
        raise ValueError(
            f"probabilities of shape {arr.shape}: expected (..., C) with 1 <= C <= "
            f"{_MAX_CLASSES} classes on the last axis"
        )
    if arr.shape[-1] == 1:
        cut = np.asarray(threshold, dtype=arr.dtype if arr.dtype.kind == "f" else np.float64)
        return (arr[..., 0] >= cut).astype(np.uint8)
    return np.argmax(arr, axis=-1).astype(np.uint8)


def instance_probabilities_to_mask(probs: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """The data set's class mask from an instance model's probabilities.

    An instance model predicts background, the data set's foreground classes, then
    ``boundary`` (the last channel). A pixel is foreground where ``1 - P(background) >=
    threshold`` (the boundary belongs to its object), and takes the most probable of the
    foreground classes.

    Parameters
    ----------
    probs : (..., C) ndarray
        ``C >= 3``: background, ``C - 2`` foreground classes, boundary.
    threshold : float

    Returns
    -------
    (...) uint8 ndarray
        0 background, 1 .. C - 2.
    """
    arr = np.asarray(probs)
    if arr.ndim < 1 or arr.shape[-1] < 3:
        raise ValueError(
            f"probabilities of shape {arr.shape}: an instance model has background, at least "
            "one foreground class and the boundary on the last axis"
        )
    dtype = arr.dtype if arr.dtype.kind == "f" else np.float64
    foreground = (1 - arr[..., 0]) >= np.asarray(threshold, dtype=dtype)
    classes = np.argmax(arr[..., 1:-1], axis=-1) + 1
    return np.where(foreground, classes, 0).astype(np.uint8)


def model_mask(probs: np.ndarray, *, threshold: float, target: str = "semantic") -> np.ndarray:
    """The class mask of a model's probabilities in the data set's classes.

    ``(M, N)`` or ``(M, N, C)`` probabilities; an instance model (``target="instances"``) goes
    through :func:`instance_probabilities_to_mask`, any other through
    :func:`probabilities_to_mask`.
    """
    arr = np.asarray(probs)
    arr = arr[..., None] if arr.ndim == 2 else arr
    if target == "instances":
        return instance_probabilities_to_mask(arr, threshold=threshold)
    return probabilities_to_mask(arr, threshold=threshold)


def _channels(probs: Any) -> int:
    channels = probs.shape[-1] if len(probs.shape) else None
    if channels is None or channels < 1:
        raise ValueError(
            f"probabilities of shape {tuple(probs.shape)}: expected (..., C) with a known "
            "number C >= 1 of classes on the last axis"
        )
    return int(channels)


def ops_probabilities_to_mask(probs: Any, *, threshold: float = 0.5) -> Any:
    """:func:`probabilities_to_mask` with ``keras.ops``: ``(..., C)`` tensor to ``(...)`` int32.

    ``C = 1``: 1 where ``probs >= threshold``, else 0; ``C > 1``: the argmax of the last axis.
    """
    from keras import ops

    if _channels(probs) == 1:
        hit = ops.greater_equal(probs[..., 0], ops.cast(threshold, probs.dtype))
        return ops.cast(hit, "int32")
    return ops.cast(ops.argmax(probs, axis=-1), "int32")


def ops_one_hot_mask(probs: Any, *, threshold: float = 0.5) -> Any:
    """The mask of :func:`ops_probabilities_to_mask` laid out like ``probs``: float32 ``(..., C)``.

    ``C = 1``: 1.0 at foreground pixels, 0.0 elsewhere; ``C > 1``: one-hot of the class
    index. This is the hard prediction that the Dice/IoU metrics score.
    """
    from keras import ops

    channels = _channels(probs)
    mask = ops_probabilities_to_mask(probs, threshold=threshold)
    if channels == 1:
        return ops.expand_dims(ops.cast(mask, "float32"), -1)
    return ops.one_hot(mask, channels, dtype="float32")
