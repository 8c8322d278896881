"""Helpers shared by the tests (importable as ``support``: pytest puts tests/ on sys.path).

Tests that need something outside Python (../shared/data, Chromium, sshd) call
:func:`require`: on a user's machine they skip with the reason; with ``CI=true`` they fail,
so nothing skips silently in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

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
