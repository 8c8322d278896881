"""Weight averaging: validate and keep an exponential moving average of the weights.

With ``TrainConfig.ema`` = ``m`` (0 < m < 1) the optimizer keeps, for every trainable weight,
``average = m * average + (1 - m) * weight`` after each step (Keras's ``use_ema``, updated inside
the compiled train step on every backend; the first step sets it to the weight). The run then
uses the average wherever it judges or keeps a model: validation after each epoch (so the best
epoch and early stopping follow the averaged model), ``best.weights.h5`` and therefore the saved
``model.keras``. Training itself goes on from the raw weights, and the last checkpoint holds the
raw weights with the averages in its optimizer state, so a resumed run continues exactly.

Non-trainable weights (batch normalisation's moving mean and variance) are not averaged: they
are already running averages of the statistics under the recent weights. A data set without a
val part picks its best epoch by the training loss, which Keras measures on the raw weights
during the epoch; the averaged weights of that epoch are still what is kept.

This module owns the swap; :class:`segkit.training.callbacks.RunCheckpoint` and the training
loops call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import keras
from keras import ops

__all__ = ["AveragedValidation", "averaged_weights", "has_average"]


def _ema_optimizer(model: keras.Model) -> Any | None:
    """The optimizer of ``model`` that keeps averages (inside a loss-scale wrapper), or None."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        return None
    return optimizer


def _pairs(optimizer: Any) -> list[tuple[Any, Any]]:
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    weights = getattr(optimizer, "_trainable_variables", None)
    if not averages or weights is None or len(averages) != len(weights):
        raise RuntimeError(
            "the optimizer has use_ema=True but no averages to swap: it has not been built "
            "(train at least one step first) or this Keras version stores them elsewhere"
        )
    return list(zip(weights, averages, strict=True))


def has_average(model: keras.Model) -> bool:
    """Whether ``model``'s optimizer keeps a moving average of its weights."""
    return _ema_optimizer(model) is not None


def _swap(optimizer: Any) -> None:
    for weight, average in _pairs(optimizer):
        value = ops.convert_to_numpy(weight)
        weight.assign(average)
        average.assign(value)


@contextmanager
def averaged_weights(model: keras.Model) -> Iterator[keras.Model]:
    """Within the block ``model`` holds the averaged weights; the raw ones come back after.

    A model whose optimizer keeps no average is left as it is.
    """
    optimizer = _ema_optimizer(model)
    if optimizer is None:
        yield model
        return
    _swap(optimizer)
    try:
        yield model
    finally:
        _swap(optimizer)


class AveragedValidation(keras.callbacks.Callback):
    """Validate with the averaged weights: swap them in for the evaluation, then back.

    Put it in the callbacks of ``fit`` (the training loops add it when ``TrainConfig.ema`` is
    set); a model whose optimizer keeps no average is validated as it is.
    """

    def __init__(self) -> None:
        super().__init__()
        self._swapped = ExitStack()
        self._inside = False

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not self._inside:
            self._swapped.enter_context(averaged_weights(self.model))
            self._inside = True

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self._swapped.close()
        self._inside = False
