"""The names of a run folder's files, and of the folder itself.

Every module that writes or reads a run folder takes its file names from here; the format is
described in ``docs/runs.md``.
"""

from __future__ import annotations

import hashlib
import time

__all__ = [
    "CONFIG",
    "LOCK",
    "TEMPLATE",
    "DATASET",
    "ENVIRONMENT",
    "HISTORY",
    "METRICS",
    "MODEL",
    "MODEL_INFO",
    "MLFLOW",
    "CHECKPOINTS",
    "STATE",
    "BEST_WEIGHTS",
    "LAST_CHECKPOINTS",
    "FIGURES",
    "HISTORY_FIGURE",
    "PREDICTIONS_FIGURE",
    "TENSORBOARD",
    "WORKERS",
    "RECORDS",
    "last_checkpoint",
    "worker_dir",
    "new_run_id",
]

# Held (flock) by the one process training in the run; holds its PID (segkit.runs.lock).
LOCK = "lock"
# Written once when the run starts (config.json again on every resume).
CONFIG = "config.json"
TEMPLATE = "template.json"
DATASET = "dataset.json"
ENVIRONMENT = "environment.json"
# Rewritten after every epoch.
HISTORY = "history.csv"
# Written when the run finishes; model.keras and model.json by segkit.models.save_model.
METRICS = "metrics.json"
MODEL = "model.keras"
MODEL_INFO = "model.json"
# Written when MLflow logging is on.
MLFLOW = "mlflow.json"

CHECKPOINTS = "checkpoints"
STATE = "state.json"  # in CHECKPOINTS
BEST_WEIGHTS = "best.weights.h5"  # in CHECKPOINTS
LAST_CHECKPOINTS = "last-*.keras"  # in CHECKPOINTS: the pattern of last_checkpoint()

FIGURES = "figures"
HISTORY_FIGURE = "history.png"  # in FIGURES
PREDICTIONS_FIGURE = "predictions.png"  # in FIGURES
TENSORBOARD = "tensorboard"
WORKERS = "workers"

# The small files that describe a run (what experiment trackers copy).
RECORDS = (CONFIG, TEMPLATE, DATASET, ENVIRONMENT, HISTORY, METRICS)


def last_checkpoint(epoch: int) -> str:
    """``last-EPOCH.keras``: the full checkpoint after ``epoch`` (1-based), in ``CHECKPOINTS``."""
    return f"last-{epoch:04d}.keras"


def worker_dir(worker: int) -> str:
    """``workers/worker-N``: where worker ``N > 0`` of a multi-worker run writes its copy."""
    return f"{WORKERS}/worker-{worker}"


def new_run_id(*parts: str) -> str:
    """``YYYYmmdd-HHMMSS-<6 hex>``: the time and a hash of ``parts`` and the time in ns.

    Parameters
    ----------
    *parts : str
        Text that tells runs started in the same second apart (training passes the config's
        JSON and the data set fingerprint).
    """
    digest = hashlib.sha256(("".join(parts) + str(time.time_ns())).encode())
    return time.strftime("%Y%m%d-%H%M%S") + "-" + digest.hexdigest()[:6]
