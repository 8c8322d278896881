"""Writing a run folder's records: config, template, data set, environment, state, metrics.

Every file is written atomically (a temporary file renamed into place), so a reader sees the
old file or the new one, never half a file. ``history.csv`` has its own module
(:mod:`segkit.runs.history`); the model files are written by :func:`segkit.models.save_model`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from segkit.files import atomic_write_text
from segkit.runs.layout import (
    CHECKPOINTS,
    CONFIG,
    DATASET,
    ENVIRONMENT,
    METRICS,
    MLFLOW,
    STATE,
    TEMPLATE,
)


class Manifest(Protocol):
    """What a run records of its prepared data set (a :class:`segkit.dataset.Manifest` fits).

    Described here rather than imported, so the run folder's owner needs nothing of
    :mod:`segkit.dataset`.
    """

    @property
    def root(self) -> Path: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def segkit_version(self) -> str: ...

    @property
    def template(self) -> Any: ...

    @property
    def counts(self) -> dict[str, int]: ...


__all__ = [
    "write_config",
    "write_template",
    "write_dataset",
    "write_environment",
    "write_run_files",
    "write_state",
    "write_metrics",
    "write_mlflow_record",
]


class _JSONDocument(Protocol):
    """A config or template: anything that writes itself as JSON text."""

    def to_json(self) -> str: ...


def _write_json(path: Path, data: Mapping[str, Any], *, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=indent) + "\n")


def write_config(run_dir: str | Path, config: _JSONDocument) -> Path:
    """``config.json``: the training config (a ``TrainConfig``), as its own ``to_json()``."""
    return atomic_write_text(Path(run_dir) / CONFIG, config.to_json())


def write_template(run_dir: str | Path, template: _JSONDocument) -> Path:
    """``template.json``: a copy of the data set's template."""
    return atomic_write_text(Path(run_dir) / TEMPLATE, template.to_json())


def write_dataset(run_dir: str | Path, manifest: Manifest) -> Path:
    """``dataset.json``: where the prepared data set was, its fingerprint, source and counts."""
    dataset = {
        "path": str(manifest.root),
        "fingerprint": manifest.fingerprint,
        "source": manifest.source,
        "counts": manifest.counts,
        "prepared_with": manifest.segkit_version,
    }
    return _write_json(Path(run_dir) / DATASET, dataset)


def write_environment(run_dir: str | Path, environment: Mapping[str, Any]) -> Path:
    """``environment.json``: versions, git commit, devices and the distribution setting."""
    return _write_json(Path(run_dir) / ENVIRONMENT, environment)


def write_run_files(
    run_dir: str | Path,
    config: _JSONDocument,
    manifest: Manifest,
    environment: Mapping[str, Any],
) -> None:
    """Start a run folder: ``config.json``, ``template.json``, ``dataset.json``,
    ``environment.json`` (the folder is created when missing)."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config)
    write_template(run_dir, manifest.template)
    write_dataset(run_dir, manifest)
    write_environment(run_dir, environment)


def write_state(run_dir: str | Path, state: Mapping[str, Any]) -> Path:
    """``checkpoints/state.json``: the training state after an epoch (the resume commit point)."""
    return _write_json(Path(run_dir) / CHECKPOINTS / STATE, state, indent=1)


def write_metrics(run_dir: str | Path, metrics: Mapping[str, Any]) -> Path:
    """``metrics.json``: best epoch, early stopping and the final val/test metrics."""
    return _write_json(Path(run_dir) / METRICS, metrics)


def write_mlflow_record(run_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """``mlflow.json``: the MLflow tracking URI, run id and experiment of the run."""
    return _write_json(Path(run_dir) / MLFLOW, record)
