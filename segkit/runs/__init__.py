"""Run folders: ``runs/<run-id>/`` with a run's config, data set, history, metrics and model.

This package owns the format (``docs/runs.md``): the file names (:mod:`segkit.runs.layout`),
the writers used by training (:mod:`segkit.runs.writer`, :mod:`segkit.runs.history`), the reader
(:mod:`segkit.runs.reader`) and the side-by-side comparison (:mod:`segkit.runs.compare`). It
imports neither TensorFlow nor :mod:`segkit.training`; training imports it.
"""

from __future__ import annotations

from segkit.runs.compare import compare_runs, format_comparison
from segkit.runs.history import read_history, write_history
from segkit.runs.layout import new_run_id
from segkit.runs.reader import Run, RunConfig, find_run, list_runs, load_run, scan_runs

__all__ = [
    "Run",
    "RunConfig",
    "load_run",
    "list_runs",
    "scan_runs",
    "find_run",
    "compare_runs",
    "format_comparison",
    "read_history",
    "write_history",
    "new_run_id",
]
