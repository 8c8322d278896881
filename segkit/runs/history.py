"""``history.csv``: one row per epoch, the only reader and the only writer.

The file has a header row; the first column is ``epoch`` (1-based), then every value logged in
any epoch, in the order they first appeared.

Cells without a value
---------------------
A value that was not logged in an epoch is written as a blank cell; a NaN that was logged (a
diverged loss) is written as ``nan``. Reading, a blank cell, a missing cell (a short row) and
a cell that is not a number all become NaN, so every column holds exactly one value per epoch
and ``history[name][i]`` is the value of epoch ``history["epoch"][i]``. Cells beyond the header
are ignored. The ``epoch`` column is read as ``int`` and must hold a number in every row.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from segkit.files import atomic_write_text
from segkit.runs.layout import HISTORY

__all__ = ["read_history", "write_history"]


def _history_path(path: str | Path) -> Path:
    p = Path(path)
    return p / HISTORY if p.is_dir() else p


def read_history(path: str | Path) -> dict[str, list[float]]:
    """Read ``history.csv`` into ``{column: [value per epoch]}``.

    Parameters
    ----------
    path : path
        The ``history.csv`` file or the run folder holding it.

    Returns
    -------
    dict of str to list of float
        The columns in file order, each as long as ``epoch``; cells without a value are NaN
        (see the module docstring). ``epoch`` holds ints.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    ValueError
        When an ``epoch`` cell is not a number.
    """
    p = _history_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such history file")
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns: dict[str, list[float]] = {name: [] for name in reader.fieldnames or ()}
        for row in reader:
            for name, values in columns.items():
                values.append(_number(row.get(name)))
            if "epoch" in columns and math.isnan(columns["epoch"][-1]):
                raise ValueError(f"{p}, line {reader.line_num}: 'epoch' is not a number")
    if "epoch" in columns:
        columns["epoch"] = [int(e) for e in columns["epoch"]]
    return columns


def _number(cell: str | None) -> float:
    if cell is None or not cell.strip():
        return math.nan
    try:
        return float(cell)
    except ValueError:
        return math.nan


def write_history(run_dir: str | Path, history: Sequence[Mapping[str, float]]) -> Path:
    """Write ``RUN/history.csv`` atomically: one row per epoch, ``epoch`` first.

    Parameters
    ----------
    run_dir : path
        The run folder (created when missing).
    history : sequence of mapping
        One mapping per epoch, with its ``epoch``; a value missing from a row is written blank.

    Returns
    -------
    Path
        The file written.
    """
    columns: list[str] = ["epoch"]
    for row in history:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: row.get(k, "") for k in columns})
    return atomic_write_text(Path(run_dir) / HISTORY, buf.getvalue())
