"""Find the failing cell of an executed notebook and describe it in a few lines.

papermill stops at the first cell that raises, records the error as that cell's output and
exits with a ``PapermillExecutionError``. :func:`find_cell_error` reads the executed notebook;
:func:`parse_papermill_log` reads papermill's console output when no notebook came back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from segkit.remote.notebook import cell_source

__all__ = [
    "CellError",
    "find_cell_error",
    "parse_papermill_log",
    "format_cell_error",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes (IPython tracebacks are coloured)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class CellError:
    """The cell that failed and its error.

    ``index`` is the cell's 0-based position in the notebook as written (markdown cells
    counted, cells papermill inserted not); ``execution_count`` is the ``In [N]`` number of
    the executed notebook, or ``None`` when unknown.
    """

    index: int | None
    execution_count: int | None
    source: str
    ename: str
    evalue: str
    traceback: tuple[str, ...] = ()


_INSERTED = ("papermill-error-cell-tag", "injected-parameters")


def find_cell_error(notebook: str | Path) -> CellError | None:
    """The first code cell of ``notebook`` whose outputs hold an error, or ``None``.

    Cells papermill inserted (its error banner, the injected parameters) are skipped and not
    counted, so ``index`` is the cell's position in the notebook the user wrote.
    """
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    index = -1
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if any(t in tags for t in _INSERTED):
            continue
        index += 1
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return CellError(
                    index=index,
                    execution_count=cell.get("execution_count"),
                    source=cell_source(cell),
                    ename=str(out.get("ename", "")),
                    evalue=str(out.get("evalue", "")),
                    traceback=tuple(strip_ansi(line) for line in out.get("traceback", [])),
                )
    return None


_IN_CELL = re.compile(r'Exception encountered at "In \[(\d+)\]"')
_LAST_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\w*): ?(.*)$")


def parse_papermill_log(text: str) -> CellError | None:
    """A :class:`CellError` from papermill's console output, or ``None`` when it holds no
    ``PapermillExecutionError`` (the cell source is unknown there and left empty)."""
    text = strip_ansi(text)
    start = text.rfind("PapermillExecutionError")
    if start < 0:
        return None
    block = text[start:]
    m = _IN_CELL.search(block)
    count = int(m.group(1)) if m else None
    ename = evalue = ""
    for line in reversed(block.splitlines()):
        hit = _LAST_LINE.match(line.strip())
        if hit and hit.group(1) != "papermill.exceptions.PapermillExecutionError":
            ename, evalue = hit.group(1), hit.group(2)
            break
    return CellError(None, count, "", ename, evalue, tuple(block.splitlines()[:60]))


def format_cell_error(error: CellError, *, max_source_lines: int = 20) -> str:
    """A short report: which cell, its source, and the error on the last line."""
    where = []
    if error.index is not None:
        where.append(f"cell {error.index + 1} of the notebook")
    if error.execution_count is not None:
        where.append(f"In [{error.execution_count}]")
    lines = [f"notebook failed at {' / '.join(where) or 'an unknown cell'}:"]
    if error.source:
        src = error.source.rstrip("\n").splitlines()
        shown = src[:max_source_lines]
        lines += ["    " + s for s in shown]
        if len(src) > len(shown):
            lines.append(f"    ... ({len(src) - len(shown)} more line(s))")
    lines.append(f"{error.ename}: {error.evalue}" if error.ename else error.evalue)
    return "\n".join(lines)
