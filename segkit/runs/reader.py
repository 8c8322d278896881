"""Reading run folders: one run, all runs of a folder, the newest finished one.

A run folder is written by :func:`segkit.training.train` through :mod:`segkit.runs.writer`;
its format is in ``docs/runs.md``. Reading needs neither TensorFlow nor
:mod:`segkit.training`: the config is read as plain data (:class:`RunConfig`).
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segkit.files import read_json as read_json_file
from segkit.runs.history import read_history
from segkit.runs.layout import (
    CHECKPOINTS,
    CONFIG,
    DATASET,
    ENVIRONMENT,
    HISTORY,
    METRICS,
    MLFLOW,
    MODEL,
    MODEL_INFO,
    STATE,
)

__all__ = [
    "Run",
    "RunConfig",
    "load_run",
    "list_runs",
    "scan_runs",
    "find_run",
    "find_run_dirs",
    "read_json",
    "read_state",
    "read_mlflow_record",
]


class RunConfig(Mapping[str, Any]):
    """The training config of a run, as plain data read from ``config.json``.

    Read-only; fields by key or attribute (``config["epochs"]``, ``config.epochs``).
    ``TrainConfig.from_dict(config)`` gives the validated config. It compares equal to a
    mapping, or to any config object whose ``to_dict()`` holds the same fields.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"the run config has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a run config is read-only")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)
        to_dict = getattr(other, "to_dict", None)
        if callable(to_dict):
            return bool(self._data == to_dict())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RunConfig({self._data!r})"

    def to_dict(self) -> dict[str, Any]:
        """A copy of the fields as a plain dict."""
        return copy.deepcopy(self._data)


@dataclass(frozen=True)
class Run:
    """One run folder.

    Attributes
    ----------
    path : Path
    config : RunConfig
        ``config.json`` as plain data.
    metrics : dict
        ``metrics.json`` (empty while the run has not finished).
    history : dict of str to list of float
        ``history.csv`` as columns (``epoch`` first; see :func:`segkit.runs.read_history`).
    dataset : dict
        ``dataset.json`` (path, fingerprint, counts).
    environment : dict
        ``environment.json`` (versions, git commit, devices).
    """

    path: Path
    config: RunConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the prepared data set it was trained on (from ``dataset.json``)."""
        return str(self.dataset.get("fingerprint", ""))

    @property
    def model_path(self) -> Path:
        """``model.keras`` of the run (the best epoch's weights)."""
        return self.path / MODEL

    @property
    def status(self) -> str:
        """``finished`` (model saved), ``interrupted`` (epochs done, no model) or ``new``."""
        if (self.path / MODEL_INFO).is_file() and self.model_path.is_file():
            return "finished"
        return "interrupted" if self.history.get("epoch") else "new"

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("epoch", []))

    def summary(self) -> dict[str, Any]:
        """A flat dict: id, status, epochs, best epoch and the val/test metrics."""
        row: dict[str, Any] = {
            "run": self.run_id,
            "status": self.status,
            "progress": f"{self.epochs_done}/{self.config.get('epochs')}",
            "best_epoch": self.metrics.get("best_epoch"),
        }
        for part in ("val", "test"):
            for key, value in (self.metrics.get(part) or {}).items():
                row[f"{part}_{key}"] = value
        return row


def read_json(run_dir: str | Path, name: str) -> dict[str, Any]:
    """The JSON object in ``run_dir/name``; ``{}`` when there is no such file.

    Raises
    ------
    ValueError
        When the file is there but is not readable JSON.
    """
    path = Path(run_dir) / name
    if not path.is_file():
        return {}
    try:
        data = read_json_file(path)
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def read_state(run_dir: str | Path) -> dict[str, Any] | None:
    """The saved training state of a run folder, or ``None`` before its first epoch ended."""
    path = Path(run_dir) / CHECKPOINTS / STATE
    if not path.is_file():
        return None
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable training state ({exc})") from None
    return state


def read_mlflow_record(run_dir: str | Path) -> dict[str, Any]:
    """``mlflow.json`` (tracking URI, MLflow run id, experiment); ``{}`` when not logged."""
    return read_json(run_dir, MLFLOW)


def load_run(path: str | Path) -> Run:
    """Read a run folder (or its ``model.keras``/``config.json``).

    Raises
    ------
    FileNotFoundError
        When ``path`` holds no ``config.json``.
    """
    p = Path(path)
    if p.is_file():
        p = p.parent
    if not (p / CONFIG).is_file():
        raise FileNotFoundError(f"{p}: not a segkit run folder (no {CONFIG})")
    return Run(
        path=p,
        config=RunConfig(read_json(p, CONFIG)),
        metrics=read_json(p, METRICS),
        history=read_history(p / HISTORY) if (p / HISTORY).is_file() else {},
        dataset=read_json(p, DATASET),
        environment=read_json(p, ENVIRONMENT),
    )


def scan_runs(runs_dir: str | Path = "runs") -> tuple[list[Run], list[tuple[Path, str]]]:
    """The readable run folders directly under ``runs_dir`` and the unreadable ones.

    Returns
    -------
    runs : list of Run
        Oldest first (by folder name).
    unreadable : list of (Path, str)
        Each folder with a ``config.json`` that could not be read, and why (one line).
    """
    root = Path(runs_dir)
    runs: list[Run] = []
    unreadable: list[tuple[Path, str]] = []
    if not root.is_dir():
        return runs, unreadable
    for p in sorted(root.iterdir()):
        if not (p / CONFIG).is_file():
            continue
        try:
            runs.append(load_run(p))
        except (OSError, ValueError) as exc:
            unreadable.append((p, str(exc)))
    return runs, unreadable


def list_runs(runs_dir: str | Path = "runs") -> list[Run]:
    """All readable run folders directly under ``runs_dir``, oldest first (by folder name).

    An unreadable run folder is left out with a :class:`UserWarning` naming it; see
    :func:`scan_runs` to get them as data.
    """
    runs, unreadable = scan_runs(runs_dir)
    for path, why in unreadable:
        warnings.warn(f"{path}: skipped, not a readable run ({why})", UserWarning, stacklevel=2)
    return runs


def find_run(
    runs_dir: str | Path = "runs", run_id: str | None = None, *, status: str = "finished"
) -> Run | None:
    """The run ``run_id`` under ``runs_dir``, or the newest run there, if it has ``status``.

    Parameters
    ----------
    runs_dir : path
        The folder holding the run folders.
    run_id : str, optional
        The run to look at; ``None``: the newest run (last by folder name) with ``status``.
    status : str
        ``finished``, ``interrupted`` or ``new`` (see :attr:`Run.status`).

    Returns
    -------
    Run or None
        ``None`` when there is no such run.
    """
    if run_id is not None:
        path = Path(runs_dir) / run_id
        if not (path / CONFIG).is_file():
            return None
        run = load_run(path)
        return run if run.status == status else None
    matching = [r for r in list_runs(runs_dir) if r.status == status]
    return matching[-1] if matching else None


def find_run_dirs(root: str | Path) -> tuple[Path, ...]:
    """Every run folder at any depth under ``root`` that holds more than its config.

    A run folder here is a folder with ``config.json`` and at least one of ``model.keras``,
    ``metrics.json`` or ``history.csv``; sorted, each once.
    """
    marks = (MODEL, METRICS, HISTORY)
    found = {
        p.parent for p in Path(root).rglob(CONFIG) if any((p.parent / m).exists() for m in marks)
    }
    return tuple(sorted(found))
