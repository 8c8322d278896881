"""The run's memory during training: history, best and last checkpoints, early stopping.

After every epoch :class:`RunCheckpoint` writes, in this order, each file atomically:

1. ``checkpoints/last-EPOCH.keras``: the whole model with its optimizer state;
2. ``checkpoints/best.weights.h5`` when ``monitor`` improved (the averaged weights when the
   optimizer keeps an average: :mod:`segkit.training.averaging`);
3. ``checkpoints/state.json``: epochs done, the history, the best value and the early-stopping
   counter, naming the checkpoint of step 1;
4. ``history.csv``.

``state.json`` is the commit point: a run killed at any moment resumes from the epoch it names,
with the checkpoint it names, and its history never holds an epoch twice. The file names and the
state and history writers belong to :mod:`segkit.runs` (see ``docs/runs.md``).
"""

from __future__ import annotations

import math
import os
import secrets
import time
from pathlib import Path
from typing import Any

import keras

from segkit.runs.history import write_history
from segkit.runs.layout import BEST_WEIGHTS, CHECKPOINTS, LAST_CHECKPOINTS, last_checkpoint
from segkit.runs.reader import read_state
from segkit.runs.writer import write_state
from segkit.training.averaging import averaged_weights

__all__ = ["RunCheckpoint", "TimeLimit", "read_state"]


def _unique_part(target: Path, suffix: str) -> Path:
    """A temporary name beside ``target``, unique to this process and call, ending in ``suffix``
    (Keras insists on ``.keras`` and ``.weights.h5``)."""
    stem = target.name[: -len(suffix)]
    return target.with_name(f".{stem}.{os.getpid()}-{secrets.token_hex(4)}.part{suffix}")


def _save_model(model: keras.Model, target: Path) -> None:
    tmp = _unique_part(target, ".keras")
    try:
        model.save(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _save_weights(model: keras.Model, target: Path) -> None:
    tmp = _unique_part(target, ".weights.h5")
    try:
        model.save_weights(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class RunCheckpoint(keras.callbacks.Callback):
    """Keep the history, the best weights and the last full checkpoint; stop early.

    Parameters
    ----------
    run_dir : path
        The run folder; files go to ``run_dir/checkpoints`` and ``run_dir/history.csv``.
    monitor : str
        Logged value that decides "best" (``*loss`` is minimised, anything else maximised).
    patience : int
        Stop after this many epochs without improvement; 0 never stops early.
    min_delta : float
        Smallest change of ``monitor`` that counts as an improvement.
    state : dict, optional
        The state read by :func:`read_state` when resuming a run.
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.checkpoints = self.run_dir / CHECKPOINTS
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.minimise = monitor.endswith("loss")
        state = state or {}
        self.history: list[dict[str, float]] = list(state.get("history", []))
        self.best: float | None = state.get("best")
        self.best_epoch: int | None = state.get("best_epoch")
        self.wait: int = int(state.get("wait", 0))
        self.stopped_early: bool = bool(state.get("stopped_early", False))

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.minimise:
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        row: dict[str, float] = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in logs.items() if _is_number(v)})
        self.history.append(row)
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        last = self.checkpoints / last_checkpoint(epoch + 1)
        _save_model(self.model, last)
        value = row.get(self.monitor)
        if value is not None and self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch + 1, 0
            with averaged_weights(self.model) as model:
                _save_weights(model, self.checkpoints / BEST_WEIGHTS)
        else:
            self.wait += 1
        if self.patience and self.wait >= self.patience:
            self.stopped_early = True
            self.model.stop_training = True
        state = {
            "epoch": epoch + 1,
            "last": last.name,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "monitor": self.monitor,
            "wait": self.wait,
            "stopped_early": self.stopped_early,
            "history": self.history,
        }
        write_state(self.run_dir, state)
        for old in self.checkpoints.glob(LAST_CHECKPOINTS):
            if old != last:
                old.unlink(missing_ok=True)
        write_history(self.run_dir, self.history)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class TimeLimit(keras.callbacks.Callback):
    """Stop training at the end of the first epoch that ends after ``seconds``.

    Parameters
    ----------
    seconds : float
        The time budget.
    since : float, optional
        ``time.perf_counter()`` value the budget counts from (default: training start).
        The run is then finished normally: the best epoch is saved and evaluated.
    anneal_from : float, optional
        Also lower the learning rate along a cosine over the budget: each epoch starts at
        ``anneal_from * (0.01 + 0.99 * (1 + cos(pi * spent)) / 2)``, ``spent`` the fraction of
        the budget used so far (``None``: the learning rate is left alone).
    """

    def __init__(
        self, seconds: float, *, since: float | None = None, anneal_from: float | None = None
    ) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.since = since
        self.anneal_from = anneal_from
        self._epoch_seconds = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.since is None:
            self.since = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        if self.anneal_from is not None:
            since = self._epoch_start if self.since is None else self.since
            spent = min(max((self._epoch_start - since) / self.seconds, 0.0), 1.0)
            factor = 0.01 + 0.99 * (1.0 + math.cos(math.pi * spent)) / 2.0
            self.model.optimizer.learning_rate.assign(self.anneal_from * factor)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.perf_counter()
        self._epoch_seconds = max(self._epoch_seconds, now - self._epoch_start)
        # stop now when another epoch would not fit into the budget
        if now - float(self.since or now) + self._epoch_seconds > self.seconds:
            self.model.stop_training = True
