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


# Every process the suite starts inherits this marker; one still alive at the end is a leak.
_SESSION_MARK = "SEGKIT_TEST_SESSION"
os.environ[_SESSION_MARK] = f"{os.getpid()}-{os.urandom(4).hex()}"


def _marked_processes(mark: str) -> list[tuple[int, str]]:
    found = []
    needle = f"{_SESSION_MARK}={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state, ppid = (entry / "stat").read_text().split(") ")[-1].split()[:2]
            if state == "Z":
                continue  # a zombie is already dead
            if int(ppid) == os.getpid() and "from multiprocessing." in cmd:
                continue  # this process's fork server or resource tracker ends with it
        except OSError:
            continue
        found.append((int(entry.name), cmd.strip()))
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a process started by a test outlives the suite."""
    import time

    if not Path("/proc/self/environ").exists():  # pragma: no cover - not Linux
        return
    mark = os.environ[_SESSION_MARK]
    deadline = time.monotonic() + 10
    left = _marked_processes(mark)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = _marked_processes(mark)
    if left:
        lines = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in left)
        session.config.get_terminal_writer().line(
            f"\nprocesses started by the tests are still running:\n{lines}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
