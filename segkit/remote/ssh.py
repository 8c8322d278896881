"""An SSH session (paramiko) that survives dropped connections.

Every operation that talks to the server is retried after reconnecting when the connection
drops. Uploads go to a temporary name on the server and are renamed into place; downloads go to
a temporary file beside the target, are checked (size and SHA-256) and only then renamed onto
the target, so a half-transferred file never replaces a good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from segkit.remote.config import SSHTarget
from segkit.remote.hostkeys import (
    DEFAULT_KNOWN_HOSTS,
    HostKeyError,
    changed_host_key_message,
    known_hosts_name,
    use_known_hosts,
)

__all__ = [
    "RemoteError",
    "ConnectionLostError",
    "RemoteCommandError",
    "TransferError",
    "CommandResult",
    "SSHSession",
]

T = TypeVar("T")
_CHUNK = 1 << 16
STREAM_THRESHOLD = 4 << 20  # bytes; larger downloads are streamed by `cat` (see get_file)


class RemoteError(RuntimeError):
    """Something went wrong on or with the remote machine."""


class ConnectionLostError(RemoteError):
    """The machine could not be reached, or stayed unreachable after every retry."""


class RemoteCommandError(RemoteError):
    """A remote command exited with a non-zero status."""

    def __init__(self, command: str, exit_code: int, output: str) -> None:
        tail = output.strip()[-2000:]
        super().__init__(f"remote command failed (exit {exit_code}): {command}\n{tail}")
        self.command = command
        self.exit_code = exit_code
        self.output = output


class TransferError(RemoteError):
    """A file arrived incomplete or different from the source."""


@dataclass(frozen=True)
class CommandResult:
    """The outcome of a remote command."""

    exit_code: int
    stdout: str
    stderr: str


_NOT_RETRIED = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _paramiko() -> Any:
    try:
        import paramiko
    except ImportError:  # pragma: no cover - depends on the installation
        raise RemoteError(
            "remote runs need paramiko: pip install 'segkit[infra]' (or pip install paramiko)"
        ) from None
    return paramiko


class SSHSession:
    """A reconnecting SSH + SFTP session to one :class:`~segkit.remote.config.SSHTarget`.

    Parameters
    ----------
    target : SSHTarget
        The machine.
    connect_timeout : float
        Seconds for one connection attempt.
    retries : int
        Attempts per operation (and per connection) before giving up.
    retry_delay : float
        First pause between attempts in seconds; doubled each time, at most 30 s.
    log : callable, optional
        Called with one line of text for each retry.
    """

    def __init__(
        self,
        target: SSHTarget,
        *,
        connect_timeout: float = 20.0,
        retries: int = 5,
        retry_delay: float = 2.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.target = target
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._log = log or (lambda line: None)
        self._client: Any = None
        self._sftp: Any = None
        self._known_hosts = Path(target.known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()

    # -- connection ---------------------------------------------------------------------------
    def __enter__(self) -> SSHSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        for obj in (self._sftp, self._client):
            if obj is not None:
                with contextlib.suppress(Exception):  # closing a dead connection may fail
                    obj.close()
        self._sftp = self._client = None

    @property
    def alive(self) -> bool:
        """Whether the underlying transport is connected."""
        if self._client is None:
            return False
        transport = self._client.get_transport()
        return bool(transport is not None and transport.is_active())

    def _new_client(self) -> Any:
        paramiko = _paramiko()
        client = paramiko.SSHClient()
        t = self.target
        self._known_hosts = use_known_hosts(client, t.known_hosts, accept_new=t.accept_new_host_key)
        try:
            self._connect_client(client)
        except BaseException:
            client.close()  # stops the transport thread of a refused or failed connection
            raise
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(15)
        return client

    def _connect_client(self, client: Any) -> None:
        t = self.target
        client.connect(
            t.host,
            port=t.port,
            username=t.user,
            key_filename=str(Path(t.identity).expanduser()) if t.identity else None,
            timeout=self.connect_timeout,
            banner_timeout=self.connect_timeout,
            auth_timeout=self.connect_timeout,
            allow_agent=t.identity is None,
            look_for_keys=t.identity is None,
        )

    def connect(self, *, deadline: float | None = None) -> SSHSession:
        """Connect, retrying ``retries`` times, or until the monotonic ``deadline`` if given.

        An unknown or changed host key is never retried: :class:`HostKeyError` at once.
        """
        paramiko = _paramiko()
        self.close()
        identity = self.target.identity
        if identity and not Path(identity).expanduser().is_file():
            raise FileNotFoundError(f"{identity}: SSH private key (identity) not found")
        attempt = 0
        delay = self.retry_delay
        while True:
            attempt += 1
            try:
                self._client = self._new_client()
                return self
            except paramiko.BadHostKeyException as exc:
                name = known_hosts_name(self.target.host, self.target.port)
                raise HostKeyError(
                    changed_host_key_message(name, exc.key, exc.expected_key, self._known_hosts)
                ) from None
            except paramiko.AuthenticationException as exc:
                if deadline is None:  # a booting machine may not have its key yet; others do
                    raise RemoteError(f"{self.target}: authentication failed ({exc})") from None
                self._log(f"waiting for {self.target} to accept the key ({exc})")
                if time.monotonic() + delay > deadline:
                    raise ConnectionLostError(f"{self.target}: authentication failed") from None
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                out_of_time = deadline is not None and time.monotonic() + delay > deadline
                if (deadline is None and attempt >= self.retries) or out_of_time:
                    raise ConnectionLostError(
                        f"cannot connect to {self.target} after {attempt} attempt(s): {exc}"
                    ) from None
                self._log(f"waiting for {self.target} ({type(exc).__name__}: {exc})")
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _ensure(self) -> Any:
        if not self.alive:
            self.connect()
        return self._client

    def sftp(self) -> Any:
        """The SFTP client, (re)opened on demand."""
        client = self._ensure()
        if self._sftp is None or self._sftp.get_channel() is None or self._sftp.sock.closed:
            self._sftp = client.open_sftp()
        return self._sftp

    def retrying(self, what: str, operation: Callable[[], T]) -> T:
        """Run ``operation``; when the connection drops, reconnect and run it again."""
        delay = self.retry_delay
        for attempt in range(1, self.retries + 1):
            try:
                return operation()
            except _NOT_RETRIED:
                raise
            except (_paramiko().SSHException, OSError, EOFError, TransferError) as exc:
                if attempt >= self.retries:
                    raise ConnectionLostError(
                        f"{what} failed after {attempt} attempt(s): {type(exc).__name__}: {exc}"
                    ) from exc
                self._log(f"{what}: {type(exc).__name__}: {exc}; retrying ({attempt})")
                self.close()
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- commands -----------------------------------------------------------------------------
    def run(
        self, command: str, *, timeout: float | None = None, stdin: bytes | None = None
    ) -> CommandResult:
        """Run ``command`` through the remote shell and collect its output (retried only when
        the connection could not be opened; a command is never started twice)."""
        client = self.retrying(f"connect to {self.target}", self._ensure)
        stdin_f, stdout_f, stderr_f = client.exec_command(command, timeout=timeout)
        if stdin is not None:
            stdin_f.write(stdin)
        stdin_f.channel.shutdown_write()
        out = stdout_f.read().decode("utf-8", "replace")
        err = stderr_f.read().decode("utf-8", "replace")
        code = stdout_f.channel.recv_exit_status()
        return CommandResult(code, out, err)

    def check(
        self, command: str, *, timeout: float | None = None, stdin: bytes | None = None
    ) -> str:
        """Run ``command``; return its stdout or raise :class:`RemoteCommandError`."""
        res = self.run(command, timeout=timeout, stdin=stdin)
        if res.exit_code != 0:
            raise RemoteCommandError(command, res.exit_code, res.stdout + res.stderr)
        return res.stdout

    # -- files --------------------------------------------------------------------------------
    def open_remote(self, path: str, mode: str = "rb") -> IO[bytes]:
        """Open a remote file through SFTP."""
        fh = self.sftp().open(path, mode)
        if "r" in mode:
            fh.prefetch()
        return fh

    def open_for_download(self, path: str, size: int | None) -> Any:
        """A reader for :meth:`get_file`: SFTP for small files (one channel for all of them),
        ``cat`` over a new exec channel for files of ``STREAM_THRESHOLD`` bytes or more, where
        its higher throughput outweighs the cost of starting a remote command."""
        if size is not None and size >= STREAM_THRESHOLD:
            return self.stream_remote(path)
        return self.open_remote(path)

    def stream_remote(self, path: str) -> _RemoteReader:
        """A reader of the bytes of a remote file, streamed by ``cat`` over an exec channel
        (several times faster than SFTP reads in paramiko). Used by :meth:`get_file`."""
        channel = self._ensure().get_transport().open_session()
        channel.settimeout(max(self.connect_timeout, 30.0))
        channel.exec_command(f"cat -- {shlex.quote(path)}")
        return _RemoteReader(channel, path, max(self.connect_timeout, 30.0))

    def stat(self, path: str) -> Any | None:
        """SFTP attributes of ``path``, or ``None`` when it does not exist."""

        def op() -> Any:
            try:
                return self.sftp().stat(path)
            except FileNotFoundError:
                return None

        return self.retrying(f"stat {path}", op)

    def read_bytes(self, path: str, *, offset: int = 0) -> bytes:
        """The bytes of a remote file from ``offset`` (``b""`` when it does not exist)."""

        def op() -> bytes:
            try:
                with self.open_remote(path) as fh:
                    fh.seek(offset)
                    return fh.read()
            except FileNotFoundError:
                return b""

        return self.retrying(f"read {path}", op)

    def makedirs(self, path: str) -> None:
        """``mkdir -p`` on the server."""
        self.check(f"mkdir -p {shlex.quote(path)}")

    def put_file(self, local: str | Path, remote: str) -> None:
        """Upload ``local`` to ``remote`` atomically (temporary name, then rename), retried."""
        local = Path(local)
        size = local.stat().st_size

        def op() -> None:
            sftp = self.sftp()
            tmp = f"{remote}.part-{uuid.uuid4().hex[:8]}"
            try:
                with open(local, "rb") as src, sftp.open(tmp, "wb") as dst:
                    dst.set_pipelined(True)
                    while block := src.read(_CHUNK):
                        dst.write(block)
                got = sftp.stat(tmp).st_size
                if got != size:
                    raise TransferError(f"{remote}: uploaded {got} of {size} bytes")
                sftp.posix_rename(tmp, remote)
            except BaseException:
                with contextlib.suppress(Exception):  # the connection may be gone
                    sftp.remove(tmp)
                raise

        self.retrying(f"upload {local} to {remote}", op)

    def put_bytes(self, data: bytes, remote: str) -> None:
        """Upload ``data`` as the remote file ``remote`` (atomic, retried)."""
        with tempfile.TemporaryDirectory() as tmpdir:
            p = Path(tmpdir) / "blob"
            p.write_bytes(data)
            self.put_file(p, remote)

    def get_file(
        self, remote: str, local: str | Path, *, size: int | None = None, sha256: str | None = None
    ) -> Path:
        """Download ``remote`` to ``local`` atomically, retried after a dropped connection.

        The bytes go to a temporary file beside ``local``; it replaces ``local`` only when
        complete and, if given, when its ``size`` and ``sha256`` match. On failure ``local``
        is left exactly as it was and no temporary file remains.
        """
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)

        def op() -> Path:
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{local.name}.", suffix=".part", dir=local.parent
            )
            tmp = Path(tmp_name)
            try:
                h = hashlib.sha256()
                n = 0
                with os.fdopen(fd, "wb") as dst, self.open_for_download(remote, size) as src:
                    while block := src.read(_CHUNK):
                        dst.write(block)
                        h.update(block)
                        n += len(block)
                    dst.flush()
                    os.fsync(dst.fileno())
                if size is not None and n != size:
                    raise TransferError(f"{remote}: received {n} of {size} bytes")
                if sha256 is not None and h.hexdigest() != sha256:
                    raise TransferError(f"{remote}: SHA-256 of the received bytes differs")
                os.replace(tmp, local)
                return local
            finally:
                tmp.unlink(missing_ok=True)

        return self.retrying(f"download {remote}", op)


class _RemoteReader:
    """File-like ``read`` over the stdout of a remote ``cat``; checks its exit status on close."""

    def __init__(self, channel: Any, path: str, timeout: float) -> None:
        self._channel = channel
        self._path = path
        self._timeout = timeout

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while block := self._channel.recv(_CHUNK):
                parts.append(block)
            return b"".join(parts)
        return self._channel.recv(size)

    def __enter__(self) -> _RemoteReader:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is not None:
                return
            if not self._channel.status_event.wait(self._timeout):
                raise EOFError(f"{self._path}: no exit status from the server (connection lost?)")
            if self._channel.exit_status != 0:
                err = self._channel.recv_stderr(4096).decode("utf-8", "replace").strip()
                if "No such file" in err:
                    raise FileNotFoundError(f"{self._path}: no such file on the server")
                raise RemoteError(f"reading {self._path} failed: {err}")
        finally:
            self._channel.close()
