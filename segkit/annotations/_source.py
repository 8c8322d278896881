"""Reading an annotation file: one-line errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from segkit.annotations.geometry import AnnotationError
from segkit.errors import describe_error
from segkit.validation import quote

HEAD_BYTES = 1 << 16  # what format detection reads of a file


def fail(path: str | Path, problem: str) -> AnnotationError:
    """An :class:`AnnotationError` ``"PATH: PROBLEM"`` on one line."""
    return AnnotationError(" ".join(f"{path}: {problem}".split()))


def read_head(path: str | Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file (``AnnotationError`` when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise fail(path, describe_error(exc).removeprefix(f"{path}: ")) from exc


def load_json(path: str | Path) -> Any:
    """Parse a JSON file; NaN and Infinity (which QuPath writes) are read as floats."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (OSError, UnicodeDecodeError, RecursionError, MemoryError) as exc:
        raise fail(path, describe_error(exc).removeprefix(f"{path}: ")) from exc


def number(value: Any, what: str) -> float:
    """``value`` as a float; a bool, string or other type is refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {quote(value, limit=60)}")
    return float(value)
