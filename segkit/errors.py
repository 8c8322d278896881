"""How an error reaches a person: one line that names the file and the problem.

:func:`describe_error` turns the exceptions of ordinary mistakes (OS errors, bad values,
undecodable text, absurd nesting) into one short line of at most :data:`MAX_MESSAGE`
characters, so a huge bad value never floods a terminal or a log (values inside messages are
quoted with :func:`segkit.validation.quote`).
"""

from __future__ import annotations

import errno
import os

__all__ = ["MAX_MESSAGE", "describe_error"]

MAX_MESSAGE = 600  # characters of one error line

_ERRNO_TEXT = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "is a folder, expected a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENOENT: "no such file or folder",
    errno.EROFS: "read-only file system",
}


def _os_error(exc: OSError) -> str:
    what = _ERRNO_TEXT.get(exc.errno or -1) or exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        path = os.fsdecode(exc.filename)
        if exc.filename2 is not None:
            return f"{path} -> {os.fsdecode(exc.filename2)}: {what}"
        return f"{path}: {what}"
    return what


def describe_error(exc: BaseException) -> str:
    """One line (at most :data:`MAX_MESSAGE` characters) that says what went wrong.

    Parameters
    ----------
    exc : BaseException
        Typically an ``OSError`` (the path is named), a ``ValueError`` whose message already
        names the file, a ``UnicodeDecodeError``, a ``RecursionError`` or a ``MemoryError``.
    """
    if isinstance(exc, OSError):
        text = _os_error(exc)
    elif isinstance(exc, UnicodeDecodeError):
        text = f"not valid {exc.encoding} text (byte {exc.start})"
    elif isinstance(exc, RecursionError):
        text = "the input is nested too deeply to read"
    elif isinstance(exc, MemoryError):
        text = "out of memory; try smaller images, fewer workers or a smaller batch"
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())  # one line
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 4] + " ..."
    return text
