"""Host keys: which SSH servers are trusted, and the policy that refuses the others.

A known-hosts file (OpenSSH's format) records the key of every trusted server, under its name
``HOST`` or ``[HOST]:PORT`` for a port other than 22. :class:`KnownHostsPolicy` is the paramiko
``MissingHostKeyPolicy`` of every connection segkit opens:

- a server whose key is recorded is accepted (paramiko checks the key itself, and a *changed*
  key raises ``BadHostKeyException`` before any policy is asked: see
  :func:`changed_host_key_message`);
- an unknown server is refused with :class:`UnknownHostKeyError` unless ``accept_new``, in
  which case its key is appended to the file (written atomically; other entries are kept
  byte for byte) and checked from then on (OpenSSH's ``StrictHostKeyChecking=accept-new``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_KNOWN_HOSTS",
    "HostKeyError",
    "UnknownHostKeyError",
    "known_hosts_name",
    "fingerprint",
    "record_host_key",
    "unknown_host_key_message",
    "changed_host_key_message",
    "host_key_policy",
    "use_known_hosts",
]

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"

_HOST_KEY_FILE = {
    "ssh-ed25519": "ssh_host_ed25519_key.pub",
    "ssh-rsa": "ssh_host_rsa_key.pub",
    "ecdsa-sha2-nistp256": "ssh_host_ecdsa_key.pub",
    "ecdsa-sha2-nistp384": "ssh_host_ecdsa_key.pub",
    "ecdsa-sha2-nistp521": "ssh_host_ecdsa_key.pub",
}


class HostKeyError(RuntimeError):
    """The server's host key is not trusted (unknown, changed or revoked); nothing was sent."""


class UnknownHostKeyError(HostKeyError):
    """The server's host key is in no known-hosts entry and new keys are not accepted."""


def known_hosts_name(host: str, port: int) -> str:
    """The name of a server in a known-hosts file: ``host``, or ``[host]:port`` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: Any) -> str:
    """``SHA256:...``, the fingerprint OpenSSH shows for a paramiko ``PKey``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _split_name(name: str) -> tuple[str, int]:
    if name.startswith("[") and "]:" in name:
        host, _, port = name[1:].rpartition("]:")
        return host, int(port)
    return name, 22


def record_host_key(known_hosts: str | Path, name: str, key: Any) -> Path:
    """Append ``name keytype base64`` to ``known_hosts`` atomically, keeping every other line.

    The file (its target, when it is a symbolic link) keeps its permissions; a new file and
    its folder are created private (0600 and 0700).
    """
    path = Path(os.path.realpath(Path(known_hosts).expanduser()))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        old = path.read_bytes()
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        old, mode = b"", 0o600
    if old and not old.endswith(b"\n"):
        old += b"\n"
    line = f"{name} {key.get_name()} {key.get_base64()}\n".encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(old + line)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _revoked(known_hosts: Path, key: Any) -> bool:
    """Whether an ``@revoked`` line of ``known_hosts`` names ``key`` (paramiko skips them)."""
    try:
        lines = known_hosts.read_text("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return False
    blob = key.get_base64()
    return any(ln.startswith("@revoked") and blob in ln.split() for ln in lines)


def unknown_host_key_message(name: str, key: Any, known_hosts: Path) -> str:
    """One line: the unknown key, how to check it and the two ways to trust it."""
    host, port = _split_name(name)
    where = shlex.quote(str(known_hosts))
    scan = f"ssh-keyscan {'' if port == 22 else f'-p {port} '}{shlex.quote(host)} >> {where}"
    own = _HOST_KEY_FILE.get(key.get_name(), "ssh_host_*_key.pub")
    return (
        f"host key of {name} ({key.get_name()} {fingerprint(key)}) is not known "
        f"(not in {known_hosts}); check it (on the machine: ssh-keygen -lf /etc/ssh/{own}), "
        f"then run again with --accept-new-host-key, or add it to {known_hosts} with: {scan}"
    )


def changed_host_key_message(name: str, key: Any, expected: Any, known_hosts: Path) -> str:
    """One line for paramiko's ``BadHostKeyException``: a recorded key differs from the server's."""
    return (
        f"host key of {name} CHANGED: the server sent {key.get_name()} {fingerprint(key)}, "
        f"{known_hosts} records {expected.get_name()} {fingerprint(expected)}; refusing to "
        "connect (someone may be intercepting the connection). If the machine was re-installed, "
        f"remove the old entry with ssh-keygen -R {shlex.quote(name)} -f "
        f"{shlex.quote(str(known_hosts))} and run again"
    )


@functools.cache
def _policy_class() -> type:
    import paramiko

    class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
        """Refuse unknown servers, or (``accept_new``) record their key in ``known_hosts``."""

        def __init__(self, known_hosts: Path, *, accept_new: bool) -> None:
            self.known_hosts = known_hosts
            self.accept_new = accept_new

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            if _revoked(self.known_hosts, key):
                raise HostKeyError(
                    f"host key of {hostname} ({key.get_name()} {fingerprint(key)}) is marked "
                    f"@revoked in {self.known_hosts}; refusing to connect"
                )
            if not self.accept_new:
                raise UnknownHostKeyError(unknown_host_key_message(hostname, key, self.known_hosts))
            record_host_key(self.known_hosts, hostname, key)
            client.get_host_keys().add(hostname, key.get_name(), key)

    return KnownHostsPolicy


def host_key_policy(known_hosts: str | Path, *, accept_new: bool) -> Any:
    """The paramiko ``MissingHostKeyPolicy`` for ``known_hosts`` (see the module docstring)."""
    return _policy_class()(Path(known_hosts).expanduser(), accept_new=accept_new)


def use_known_hosts(client: Any, known_hosts: str | None, *, accept_new: bool) -> Path:
    """Load ``known_hosts`` (default ``~/.ssh/known_hosts``) into the paramiko ``client`` and
    install :func:`host_key_policy`; returns the file's path."""
    path = Path(known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()
    if path.is_file():
        try:
            client.get_host_keys().load(str(path))
        except (ValueError, TypeError, UnicodeDecodeError, OSError) as exc:  # a malformed entry
            raise HostKeyError(
                f"{path}: cannot read the known-hosts file ({type(exc).__name__}: {exc}); fix "
                "or remove the bad entry"
            ) from None
    client.set_missing_host_key_policy(host_key_policy(path, accept_new=accept_new))
    return path
