"""Checks of weight averaging shared by the TensorFlow tests and the other backends' process.

:class:`AverageRecorder` notes, at the end of every epoch, the raw weights and the optimizer's
averages (read from Keras's own variables, not through :mod:`segkit.training.averaging`);
:func:`check_averaged_run` compares the run's saved model with them.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np


def _numpy(variables: list) -> list[np.ndarray]:
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _averages(model: keras.Model) -> list[np.ndarray]:
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    return _numpy(optimizer._model_variables_moving_average)


def _largest_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


class AverageRecorder(keras.callbacks.Callback):
    """Raw trainable weights and their averages after each epoch; the averages at the start."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[list[np.ndarray]] = []
        self.averages: list[list[np.ndarray]] = []
        self.at_start: list[np.ndarray] | None = None
        self.steps_at_start = -1

    def on_train_begin(self, logs=None):  # noqa: ANN001
        self.steps_at_start = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if self.steps_at_start:
            self.at_start = _averages(self.model)

    def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
        self.raw.append(_numpy(self.model.trainable_weights))
        self.averages.append(_averages(self.model))


def check_averaged_run(run_dir: Path, recorder: AverageRecorder) -> dict[str, float]:
    """What the tests assert on a finished run trained with ``ema`` and ``recorder``.

    Returns the largest difference between the saved model's trainable weights and the
    averages of the best epoch (``to_average``, 0 when they are kept), the same to the raw
    weights of that epoch (``to_raw``, > 0 when the raw ones were not kept),
    and the relative difference between the best epoch's logged ``val_loss`` and the saved
    model's validation loss (``val_loss``: small when validation used the averages).
    """
    from segkit.runs import load_run

    run = load_run(run_dir)
    best = int(run.metrics["best_epoch"])
    saved = keras.models.load_model(run_dir / "model.keras", compile=False)
    weights = _numpy(saved.trainable_weights)
    logged = float(run.history["val_loss"][best - 1])
    return {
        "to_average": _largest_difference(weights, recorder.averages[best - 1]),
        "to_raw": _largest_difference(weights, recorder.raw[best - 1]),
        "val_loss": abs(float(run.metrics["val"]["loss"]) - logged) / max(abs(logged), 1e-12),
    }
