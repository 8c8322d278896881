"""Write a folder all at once: build it in a temporary folder beside it, swap it into place.

``prepare`` writes a data set this way, so an interrupted run leaves no half data set::

    with FolderTransaction(dst) as tx:
        out = tx.create()          # .DST.segkit-tmp-PID-XXXX beside dst
        ...                        # write everything under out
        tx.commit()                # dst is now the new folder; the old one is removed

Leaving the ``with`` block without :meth:`FolderTransaction.commit` (an error) removes the
temporary folder and leaves ``dst`` as it was. A run that is killed leaves its temporary folder
behind; the next transaction on the same ``dst`` removes it once its process is gone.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from types import TracebackType

__all__ = ["FolderTransaction", "remove_stale", "swap_into_place", "temp_path"]

TMP_MARK = ".segkit-tmp-"
OLD_MARK = ".segkit-old-"


def temp_path(dst: Path, mark: str = TMP_MARK) -> Path:
    """A fresh hidden name beside ``dst`` that carries this process's id."""
    return dst.parent / f".{dst.name}{mark}{os.getpid()}-{secrets.token_hex(4)}"


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

    def __enter__(self) -> FolderTransaction:
        remove_stale(self.dst)
        return self

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
