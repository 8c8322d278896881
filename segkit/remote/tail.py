"""Follow a log file on the remote machine: copy what is appended to a local text stream until
the job that writes it leaves its exit code in a second file (``tail -f`` over SFTP).
"""

from __future__ import annotations

import codecs
import time
from typing import TextIO

from segkit.remote.ssh import SSHSession

__all__ = ["follow_log"]


def follow_log(
    ssh: SSHSession, log_path: str, exit_code_path: str, stream: TextIO, *, poll_interval: float
) -> int:
    """Write the growing remote file ``log_path`` to ``stream`` until ``exit_code_path`` holds a
    number; return that number (the job's exit status).

    Bytes are decoded as UTF-8 across reads, so a character split between two polls is written
    whole; undecodable bytes become U+FFFD.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def echo(data: bytes, *, final: bool = False) -> None:
        text = decoder.decode(data, final=final)
        if text:
            stream.write(text)
            stream.flush()

    offset = 0
    while True:
        chunk = ssh.read_bytes(log_path, offset=offset)
        offset += len(chunk)
        echo(chunk)
        done = ssh.read_bytes(exit_code_path).strip()
        if done:
            echo(ssh.read_bytes(log_path, offset=offset), final=True)
            return int(done)
        time.sleep(poll_interval)
