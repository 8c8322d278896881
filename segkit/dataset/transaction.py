"""Write a folder all at once: build it in a temporary folder beside it, swap it into place.

``prepare`` writes a data set this way, so an interrupted run leaves no half data set::

    with FolderTransaction(dst) as tx:
        out = tx.create()          # .DST.segkit-tmp-PID-XXXX beside dst
        ...                        # write everything under out
        tx.commit()                # dst is now the new folder; the old one is removed

Leaving the ``with`` block without :meth:`FolderTransaction.commit` (an error) removes the
temporary folder and leaves ``dst`` as it was. A run that is killed leaves its temporary folder
behind; the next transaction on the same ``dst`` removes it once its process is gone.

One transaction at a time writes ``dst``: entering takes an exclusive ``flock`` on the lock file
``.DST.segkit-lock`` beside it (with the process id inside), and a second transaction raises
:class:`FolderBusyError` at once. The operating system releases the lock when the process ends,
however it ends; leaving the block removes the lock file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FolderBusyError",
    "FolderTransaction",
    "lock_path",
    "remove_stale",
    "swap_into_place",
    "temp_path",
]

TMP_MARK = ".segkit-tmp-"
OLD_MARK = ".segkit-old-"
LOCK_MARK = ".segkit-lock"


class FolderBusyError(ValueError):
    """Another process is writing the folder (it holds the lock)."""


def temp_path(dst: Path, mark: str = TMP_MARK) -> Path:
    """A fresh hidden name beside ``dst`` that carries this process's id."""
    return dst.parent / f".{dst.name}{mark}{os.getpid()}-{secrets.token_hex(4)}"


def lock_path(dst: Path) -> Path:
    """The lock file of ``dst``: ``.DST.segkit-lock`` beside it."""
    return dst.parent / f".{dst.name}{LOCK_MARK}"


def _holder(fd: int) -> str:
    """The process id written in a lock file (the holder writes it just after locking)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return f"PID {text}"
        time.sleep(0.01)
    return "another process"


def _lock(dst: Path) -> int | None:
    """An open descriptor holding the exclusive lock of ``dst``, this process's id inside."""
    if fcntl is None:  # pragma: no cover - not POSIX: no lock
        return None
    path = lock_path(dst)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderBusyError(f"{dst} is being prepared by {holder}") from None
        # The holder before us may have removed the file between our open and our lock; a
        # lock on a removed file guards nothing, so open the one at ``path`` again.
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            return fd
        os.close(fd)


def _unlock(dst: Path, fd: int | None) -> None:
    if fd is None:  # pragma: no cover
        return
    try:
        lock_path(dst).unlink(missing_ok=True)  # still locked: nobody takes a stale file
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(dst: Path) -> None:
    """Remove temporary folders left by runs that were killed (their process is gone)."""
    if not dst.parent.is_dir():
        return
    for p in dst.parent.glob(f".{dst.name}.segkit-*"):
        mark = TMP_MARK if TMP_MARK in p.name else OLD_MARK if OLD_MARK in p.name else None
        if mark is None:
            continue
        pid_text = p.name.split(mark, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(p, ignore_errors=True)


def swap_into_place(tmp: Path, dst: Path) -> None:
    """Make the complete folder ``tmp`` become ``dst`` (renames; the old ``dst`` is removed)."""
    if dst.exists():
        if dst.is_dir() and not any(dst.iterdir()):
            dst.rmdir()
        else:
            old = temp_path(dst, OLD_MARK)
            os.rename(dst, old)
            os.rename(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
            return
    os.rename(tmp, dst)


class FolderTransaction:
    """Replace ``dst`` with a folder written elsewhere first, or leave it as it was.

    Parameters
    ----------
    dst : Path
        The folder to write (its parent is created when needed).

    Raises
    ------
    FolderBusyError
        On entering, when another process holds the lock of ``dst``.

    Attributes
    ----------
    tmp : Path
        Where the new folder is written until :meth:`commit`.
    committed : bool
    """

    def __init__(self, dst: Path) -> None:
        self.dst = dst
        self.tmp = temp_path(dst)
        self.committed = False
        self._lock: int | None = None
        self._made: list[Path] = []

    def __enter__(self) -> FolderTransaction:
        parent = self.dst.parent
        while not parent.exists():
            self._made.append(parent)
            parent = parent.parent
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock = _lock(self.dst)
        except BaseException:
            self._remove_made()
            raise
        remove_stale(self.dst)
        return self

    def _remove_made(self) -> None:
        """Remove the (still empty) parent folders that entering created."""
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:
                break

    def create(self) -> Path:
        """Create the temporary folder (and ``dst``'s parent); return it."""
        self.tmp.mkdir(parents=True)
        return self.tmp

    def commit(self) -> None:
        """Swap the temporary folder into place as ``dst``."""
        swap_into_place(self.tmp, self.dst)
        self.committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed and self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)
        _unlock(self.dst, self._lock)
        self._lock = None
        if not self.committed:
            self._remove_made()
