"""One run, one writer: an OS lock on ``RUN/lock`` while a process trains in the run folder.

The lock is ``flock`` on the file ``lock`` in the run folder, which holds the PID of the
holder. A second process that asks for it is refused at once (:class:`RunInUseError`, naming
the PID) and changes nothing in the folder. The kernel drops the lock when the holder exits,
however it exits, so a crashed run never leaves a stale lock behind; the file itself stays.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from segkit.runs.layout import LOCK

__all__ = ["RunInUseError", "run_lock"]


class RunInUseError(ValueError):
    """The run folder is locked by another process."""


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return "?"


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` (created if needed) for the duration of a ``with`` block.

    Raises
    ------
    RunInUseError
        When another process holds it: ``"run NAME is in use by PID N (PATH)"``.
    """
    import fcntl

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RunInUseError(
                f"run {run_dir.name} is in use by PID {_holder(fd)} ({run_dir}); wait for it to "
                "finish or choose another --run-id"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
