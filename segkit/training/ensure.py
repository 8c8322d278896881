"""``ensure_run``: a finished run to work with, trained only when there is none yet."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from segkit.runs import Run, find_run
from segkit.runs.lock import run_lock
from segkit.training.config import TrainConfig

if TYPE_CHECKING:
    import keras

__all__ = ["ensure_run"]


def ensure_run(
    dataset_dir: str | Path | Callable[[], str | Path],
    config: TrainConfig | None = None,
    *,
    runs_dir: str | Path = "runs",
    run_id: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    overwrite: bool = False,
    verify: bool = True,
) -> Run:
    """A finished run under ``runs_dir``: found there, or trained now with :func:`train`.

    Parameters
    ----------
    dataset_dir : path or callable
        The prepared data set to train on, or a function without arguments that prepares one
        and returns its path; the function is called only when a run is trained.
    config : TrainConfig, optional
        Hyper-parameters of a run that is trained (default ``TrainConfig()``).
    runs_dir : path
        Parent folder of the run folders.
    run_id : str, optional
        ``None``: the newest finished run under ``runs_dir``, or a new run when there is none.
        A name: that run, as :func:`train` leaves it: returned as it is when finished,
        resumed when interrupted, trained when new.
    callbacks : sequence of keras.callbacks.Callback
        Extra Keras callbacks for the training, when there is one.
    overwrite : bool
        Delete the folder of ``run_id`` first and train it again from scratch.
    verify : bool, default True
        Check the data set against its manifest before training (see :func:`train`).

    Returns
    -------
    Run

    Raises
    ------
    ValueError
        When ``overwrite`` is asked without a ``run_id``.
    """
    if overwrite:
        if run_id is None:
            raise ValueError("ensure_run: overwrite=True needs the run_id of the run to redo")
        target = Path(runs_dir) / run_id
        if target.is_dir():
            with run_lock(target):  # refuses while another process trains in it
                shutil.rmtree(target, ignore_errors=True)
    elif run_id is None:
        found = find_run(runs_dir)
        if found is not None:
            return found
    from segkit.training.loop import train

    data = dataset_dir() if callable(dataset_dir) else dataset_dir
    return train(data, config, runs_dir=runs_dir, run_id=run_id, callbacks=callbacks, verify=verify)
