"""Helpers shared by the tests (importable as ``support``: pytest puts tests/ on sys.path).

Tests that need something outside Python (../shared/data, Chromium, sshd) call
:func:`require`: on a user's machine they skip with the reason; with ``CI=true`` they fail,
so nothing skips silently in CI. A test file that needs an optional extra calls
:func:`require_module` at module level instead of ``pytest.importorskip``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGKIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip (on a user's machine) or fail (in CI) when ``condition`` is false."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_module(name: str, reason: str) -> ModuleType:
    """Import and return module ``name``; when it cannot be imported, skip or fail the file.

    Call it at module level, in place of ``pytest.importorskip``. On a user's machine a missing
    module skips every test of the calling file. With ``CI=true`` it fails the file's
    collection, which pytest reports as an error naming the file and ``reason``, so a missing
    extra can never pass in CI as a row of skips.

    ``reason`` says what provides the module, e.g. ``"the cpu extra: pip install -e '.[cpu]'"``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"cannot import {name!r} ({exc}); it comes with {reason}"
        if IN_CI:
            pytest.fail(f"required in CI: {message}", pytrace=False)
        pytest.skip(message, allow_module_level=True)
