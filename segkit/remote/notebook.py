"""Read what a remote run needs from a notebook file: cell sources and the parameters cell.

papermill injects parameters after the cell tagged ``parameters``; :func:`notebook_parameters`
lists the names assigned there, :func:`parse_parameter` turns a command-line value into a
Python value the way ``papermill -p`` does, and :func:`fill_placeholders` replaces ``{data}``
and ``{output}`` in string values with the remote folders.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_PLACEHOLDER",
    "OUTPUT_PLACEHOLDER",
    "cell_source",
    "notebook_parameters",
    "parse_parameter",
    "fill_placeholders",
]

DATA_PLACEHOLDER, OUTPUT_PLACEHOLDER = "{data}", "{output}"

_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)")


def cell_source(cell: dict) -> str:
    """The source of a notebook cell as one string (nbformat stores a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def notebook_parameters(notebook: str | Path) -> tuple[str, ...]:
    """Names assigned in the cell tagged ``parameters`` of ``notebook`` (empty if none)."""
    path = Path(notebook)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable notebook ({exc})") from None
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            lines = cell_source(cell).splitlines()
            return tuple(m.group(1) for line in lines if (m := _ASSIGN.match(line)))
    return ()


def parse_parameter(text: str) -> Any:
    """Turn a command-line parameter value into a Python value, as ``papermill -p`` does:
    ``True``/``False``/``None``, integers and floats are converted, anything else stays a string.
    """
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fill_placeholders(value: Any, *, data: str | None, output: str) -> Any:
    """``value`` with ``{data}`` replaced by ``data`` and ``{output}`` by ``output`` (strings
    only; other values are returned as they are). ``{data}`` without a data folder is an error.
    """
    if isinstance(value, str):
        if DATA_PLACEHOLDER in value:
            if data is None:
                raise ValueError(
                    f"parameter value {value!r} uses {DATA_PLACEHOLDER} but no --data was given"
                )
            value = value.replace(DATA_PLACEHOLDER, data)
        return value.replace(OUTPUT_PLACEHOLDER, output)
    return value
