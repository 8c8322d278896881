"""Shared fixtures.

Tests that need something outside Python (../shared/data, Chromium, sshd) call
:func:`require`: on a user's machine they skip with the reason; with ``CI=true`` they fail,
so nothing skips silently in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

from support import IN_CI, REPO_ROOT, SHARED_DATA, require  # noqa: E402,F401


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; skips locally and fails in CI when it is missing."""
    require(SHARED_DATA.is_dir(), f"real data sets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic source data set (12 pairs of 64x64, separate layout). Read-only."""
    from segkit.synthetic import make_synthetic_dataset

    out = tmp_path_factory.mktemp("synthetic_source")
    return make_synthetic_dataset(out, 12, height=64, width=64, seed=1)
