"""Several runs side by side: the settings that differ and their metrics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from segkit.runs.reader import Run

__all__ = ["compare_runs", "format_comparison"]


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
    names: list[str] = []
    for c in configs:
        names += [n for n in c if n not in names]
    for name in names:
        values = [c.get(name) for c in configs]
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
