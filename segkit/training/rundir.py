"""What training adds to the run folder format: the environment it records, and the rule of
which config changes a resumed run accepts. The files themselves are written by
:mod:`segkit.runs.writer`."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segkit import __version__
from segkit.runs.layout import CONFIG, DATASET
from segkit.runs.reader import read_json
from segkit.training.config import TrainConfig

__all__ = ["git_commit", "environment_info", "check_resumable"]

# Fields that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience", "sample_figures", "mlflow_tracking_uri")


def git_commit(path: Path | None = None) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the git checkout holding segkit, or ``None``."""
    where = path or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment_info(
    strategy_kind: str, replicas: int, precision: str, *, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """Versions, Keras's backend, devices and the distribution setting of this process.

    ``tensorboard`` says whether the run writes ``tensorboard/`` (only on the TensorFlow
    backend); ``notes`` explains what a backend does not do, and holds ``notes``.
    """
    import keras

    from segkit.training.backends import backend_versions, device_records, tensorboard_note

    versions = backend_versions()
    no_tensorboard = tensorboard_note()
    return {
        "segkit_version": __version__,
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
        "keras": keras.__version__,
        "devices": device_records(),
        "strategy": strategy_kind,
        "replicas": replicas,
        "precision": precision,
        "tensorboard": no_tensorboard is None,
        "notes": [n for n in (no_tensorboard, *notes) if n],
    }


def check_resumable(run_dir: Path, config: TrainConfig, fingerprint: str) -> None:
    """Raise ``ValueError`` when ``run_dir`` was started with another config or data set."""
    saved = TrainConfig.load(run_dir / CONFIG)
    changed = [
        name
        for name, value in config.to_dict().items()
        if name not in RESUMABLE_CHANGES and saved.to_dict()[name] != value
    ]
    if changed:
        detail = ", ".join(
            f"{n}: {saved.to_dict()[n]!r} -> {config.to_dict()[n]!r}" for n in changed
        )
        raise ValueError(
            f"{run_dir}: cannot resume this run with another config ({detail}); use a new run id"
        )
    dataset = read_json(run_dir, DATASET)
    if dataset.get("fingerprint") != fingerprint:
        raise ValueError(
            f"{run_dir}: the run was trained on data set {dataset.get('fingerprint', '?')[:12]}, "
            f"not {fingerprint[:12]}; use a new run id"
        )
