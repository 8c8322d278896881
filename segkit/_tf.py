"""Quiet TensorFlow's C++ start-up log lines, unless the user has chosen a level.

TensorFlow writes absl/C++ INFO and WARNING lines straight to stderr when it loads, before
Python's logging can intervene; in a notebook they show as red blocks.

- ``TF_CPP_MIN_LOG_LEVEL`` is read once, when TensorFlow loads, so it must be set before the
  first ``import tensorflow`` (``import keras`` loads TensorFlow too): ``segkit/__init__.py``
  calls :func:`quiet_tensorflow_logs`, which Python runs before any segkit sub-package.
- oneDNN's notice ("oneDNN custom operations are on ...") is written whatever the level. It is
  not worth turning oneDNN off for: its CPU kernels train a segkit U-Net about twice as fast
  (``benchmarks/bench_train.py``). So :func:`quiet_tensorflow_logs` also arranges for the
  first import of TensorFlow to run with file descriptor 2 sent to a temporary file, and then
  writes everything it caught back to stderr except that notice and absl's "All log messages
  before absl::InitializeLog()" line. Nothing else is held back, and with
  ``TF_CPP_MIN_LOG_LEVEL=0`` nothing is filtered. ``TF_ENABLE_ONEDNN_OPTS=0`` still turns
  oneDNN off.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from types import ModuleType
from typing import Any

__all__ = ["TF_LOG_DEFAULTS", "STARTUP_NOTICES", "quiet_tensorflow_logs", "filtered_stderr"]

#: Defaults for TensorFlow's environment variables; a value the user has set is kept.
#: ``TF_CPP_MIN_LOG_LEVEL=2`` keeps C++ errors and hides INFO and WARNING lines.
TF_LOG_DEFAULTS: dict[str, str] = {"TF_CPP_MIN_LOG_LEVEL": "2"}

#: Lines TensorFlow writes at start-up whatever the log level, held back at its first import.
STARTUP_NOTICES: tuple[str, ...] = (
    "oneDNN custom operations are on",
    "All log messages before absl::InitializeLog() is called",
)


def quiet_tensorflow_logs() -> None:
    """Set each of :data:`TF_LOG_DEFAULTS` that is not already set in ``os.environ``.

    Unless TensorFlow is already loaded or ``TF_CPP_MIN_LOG_LEVEL`` is 0, the first import of
    TensorFlow will also hold back :data:`STARTUP_NOTICES`.
    """
    for name, value in TF_LOG_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", ""):
        return
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())


@contextmanager
def filtered_stderr(drop: Sequence[str]) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file; afterwards write back the lines it caught,
    except those containing one of ``drop``. Where descriptor 2 cannot be duplicated, a no-op.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            with suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().splitlines(keepends=True)
            kept = [b for b in lines if not any(d.encode() in b for d in drop)]
            if kept:
                os.write(2, b"".join(kept))


class _QuietSourceLoader(importlib.machinery.SourceFileLoader):
    """TensorFlow's own loader, executing the package with its start-up notices held back."""

    def exec_module(self, module: ModuleType) -> None:
        _remove_finders()
        with filtered_stderr(STARTUP_NOTICES):
            super().exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the finders after it and swaps in :class:`_QuietSourceLoader`.

    It asks the finders that follow it, so one that hides or replaces TensorFlow still
    decides; only a plain source package gets the quiet loader.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        finders = sys.meta_path
        rest = finders[finders.index(self) + 1 :] if self in finders else []
        for finder in rest:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is None:
                continue
            loader = spec.loader
            if type(loader) is importlib.machinery.SourceFileLoader:
                spec.loader = _QuietSourceLoader(loader.name, loader.path)
            return spec
        return None


def _remove_finders() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietFinder)]
