"""One run, one writer: the run lock refuses a second process at once and changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segkit.runs.lock import RunInUseError, run_lock

HOLD = """
import sys, time
from segkit.runs.lock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _hold(run_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_second_process_is_refused_with_the_pid_and_nothing_changes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-a"
    proc = _hold(run_dir)
    try:
        before = _listing(run_dir)
        refused = pytest.raises(RunInUseError, match=rf"run run-a is in use by PID {proc.pid}")
        with refused, run_lock(run_dir):
            raise AssertionError("the lock was granted twice")
        assert _listing(run_dir) == before
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_process_is_free_again(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-b"
    proc = _hold(run_dir)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            with run_lock(run_dir) as path:
                assert path.read_text().strip() == str(os.getpid())
            break
        except RunInUseError:
            assert time.monotonic() < deadline, "the lock outlived its process"
            time.sleep(0.1)


def test_lock_is_reentrant_across_sequential_uses(tmp_path: Path) -> None:
    for _ in range(2):
        with run_lock(tmp_path / "run-c"):
            pass
