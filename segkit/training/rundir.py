"""Writing the descriptive files of a run folder: ids, config, template, data set, environment."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from segkit import __version__
from segkit.files import atomic_write_text
from segkit.training.config import TrainConfig

__all__ = ["new_run_id", "git_commit", "environment_info", "write_run_files", "check_resumable"]

# Fields that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience", "sample_figures", "mlflow_tracking_uri")


def new_run_id(config: TrainConfig, fingerprint: str) -> str:
    """``YYYYmmdd-HHMMSS-<6 hex>``: the time and a hash of the config and data fingerprint."""
    digest = hashlib.sha256((config.to_json() + fingerprint + str(time.time_ns())).encode())
    return time.strftime("%Y%m%d-%H%M%S") + "-" + digest.hexdigest()[:6]


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


def environment_info(strategy_kind: str, replicas: int, precision: str) -> dict[str, Any]:
    """Versions, devices and the distribution setting of this process."""
    import keras
    import tensorflow as tf

    devices = [{"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()]
    return {
        "segkit_version": __version__,
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "devices": devices,
        "strategy": strategy_kind,
        "replicas": replicas,
        "precision": precision,
    }


def write_run_files(run_dir: Path, config: TrainConfig, manifest: Any, env: dict[str, Any]) -> None:
    """Write ``config.json``, ``template.json``, ``dataset.json`` and ``environment.json``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / "config.json")
    atomic_write_text(run_dir / "template.json", manifest.template.to_json())
    dataset = {
        "path": str(manifest.root),
        "fingerprint": manifest.fingerprint,
        "source": manifest.source,
        "counts": manifest.counts,
        "prepared_with": manifest.segkit_version,
    }
    atomic_write_text(run_dir / "dataset.json", json.dumps(dataset, indent=2) + "\n")
    atomic_write_text(run_dir / "environment.json", json.dumps(env, indent=2) + "\n")


def check_resumable(run_dir: Path, config: TrainConfig, fingerprint: str) -> None:
    """Raise ``ValueError`` when ``run_dir`` was started with another config or data set."""
    saved = TrainConfig.load(run_dir / "config.json")
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
    dataset = json.loads((run_dir / "dataset.json").read_text())
    if dataset.get("fingerprint") != fingerprint:
        raise ValueError(
            f"{run_dir}: the run was trained on data set {dataset.get('fingerprint', '?')[:12]}, "
            f"not {fingerprint[:12]}; use a new run id"
        )
