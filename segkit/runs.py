"""Reading run folders: one run, all runs of a folder, and several runs side by side.

A run folder is written by :func:`segkit.training.train` (see ``docs`` and
:mod:`segkit.training.loop` for its files). Reading never needs TensorFlow.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segkit.training.config import TrainConfig

__all__ = ["Run", "load_run", "list_runs", "compare_runs", "format_comparison"]


@dataclass(frozen=True)
class Run:
    """One run folder.

    Attributes
    ----------
    path : Path
    config : TrainConfig
    metrics : dict
        ``metrics.json`` (empty while the run has not finished).
    history : dict of str to list of float
        ``history.csv`` as columns (``epoch`` first).
    dataset : dict
        ``dataset.json`` (path, fingerprint, counts).
    environment : dict
        ``environment.json`` (versions, git commit, devices).
    """

    path: Path
    config: TrainConfig
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
        return self.path / "model.keras"

    @property
    def status(self) -> str:
        """``finished`` (model saved), ``interrupted`` (epochs done, no model) or ``new``."""
        if (self.path / "model.json").is_file() and self.model_path.is_file():
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
            "progress": f"{self.epochs_done}/{self.config.epochs}",
            "best_epoch": self.metrics.get("best_epoch"),
        }
        for part in ("val", "test"):
            for key, value in (self.metrics.get(part) or {}).items():
                row[f"{part}_{key}"] = value
        return row


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable ({exc})") from None
    return data if isinstance(data, dict) else {}


def _read_history(path: Path) -> dict[str, list[float]]:
    if not path.is_file():
        return {}
    columns: dict[str, list[float]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for key, value in row.items():
                try:
                    number = float(value) if value not in ("", None) else float("nan")
                except ValueError:
                    number = float("nan")
                columns.setdefault(key, []).append(number)
    if "epoch" in columns:
        columns["epoch"] = [int(e) for e in columns["epoch"]]
    return columns


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
    config_path = p / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{p}: not a segkit run folder (no config.json)")
    return Run(
        path=p,
        config=TrainConfig.load(config_path),
        metrics=_read_json(p / "metrics.json"),
        history=_read_history(p / "history.csv"),
        dataset=_read_json(p / "dataset.json"),
        environment=_read_json(p / "environment.json"),
    )


def list_runs(runs_dir: str | Path = "runs") -> list[Run]:
    """All run folders directly under ``runs_dir``, oldest first (by folder name)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return [load_run(p) for p in sorted(root.iterdir()) if (p / "config.json").is_file()]


def compare_runs(runs: Sequence[Run], *, all_fields: bool = False) -> dict[str, list[Any]]:
    """Runs side by side: one row per setting or metric, one column per run.

    Parameters
    ----------
    runs : sequence of Run
    all_fields : bool
        List every config field, not only those that differ between the runs.

    Returns
    -------
    dict of str to list
        Ordered rows: ``run``, ``status``, ``progress``, ``best_epoch``, the config fields, the
        data set fingerprint and the ``val_*``/``test_*`` metrics. ``None`` where a run has no
        value.
    """
    runs = list(runs)
    summaries = [r.summary() for r in runs]
    table: dict[str, list[Any]] = {}
    for key in ("run", "status", "progress", "best_epoch"):
        table[key] = [s.get(key) for s in summaries]
    configs = [r.config.to_dict() for r in runs]
    for name in configs[0] if configs else []:
        values = [c[name] for c in configs]
        if all_fields or len({json.dumps(v) for v in values}) > 1:
            table[name] = values
    fingerprints = [r.fingerprint[:12] for r in runs]
    if all_fields or len(set(fingerprints)) > 1:
        table["dataset"] = fingerprints
    metric_keys: list[str] = []
    for s in summaries:
        metric_keys += [k for k in s if k.startswith(("val_", "test_")) and k not in metric_keys]
    for key in metric_keys:
        table[key] = [s.get(key) for s in summaries]
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_comparison(table: dict[str, list[Any]]) -> str:
    """Render :func:`compare_runs` output as aligned text columns."""
    rows = [[key] + [_cell(v) for v in values] for key, values in table.items()]
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
