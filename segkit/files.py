"""Files written whole or not at all, and their hashes.

Every writer is atomic: it writes a temporary file beside the target and renames it into place,
so a reader never sees half a file and an interrupted write leaves the old file as it was.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_file",
    "read_json",
    "sha256_file",
    "stat_key",
]


_UMASK: list[int] = []


def _umask() -> int:
    if not _UMASK:
        current = os.umask(0o022)
        os.umask(current)
        _UMASK.append(current)
    return _UMASK[0]


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On an exception the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``target`` atomically (``fsync``: flush to disk before the rename)."""
    target = Path(target)
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    return target


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``target`` atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    """``(size, mtime_ns, ctime_ns, inode)``: any write to a file, or its replacement, changes
    it (the ctime cannot be set back), so an equal key vouches for an earlier hash."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        _copy(fh, h, chunk)
    return h.hexdigest()


def _copy(fh: IO[bytes], h: Any, chunk: int) -> None:
    while True:
        b = fh.read(chunk)
        if not b:
            break
        h.update(b)


def check_output_file(target: str | Path) -> Path:
    """Check, before any work, that a file can be written at ``target``.

    The target must not be a folder and its nearest existing parent must be a writable
    folder; nothing is created.

    Raises
    ------
    OSError
        ``IsADirectoryError``, ``NotADirectoryError`` or ``PermissionError`` naming the path.
    """
    import errno

    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file", str(target))
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a part of the path is not a folder", str(target))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "permission denied", str(parent))
    return target


def read_json(path: str | Path) -> Any:
    """The JSON value in a UTF-8 file, with errors that name the file.

    Raises
    ------
    FileNotFoundError
        When the file does not exist (unchanged, so callers can say what was expected).
    ValueError
        ``"PATH: not UTF-8 text (byte N)"``, ``"PATH: not valid JSON (MSG at line N)"``,
        ``"PATH: nested too deeply"`` or ``"PATH: cannot read it (REASON)"``.
    """
    import json

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"{p}: cannot read it ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise ValueError(f"{p}: nested too deeply") from None
