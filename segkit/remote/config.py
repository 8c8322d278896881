"""Where a remote run goes and how it is run there: two frozen, JSON-serialisable configs.

:class:`SSHTarget` says how to reach a machine (host, user, port, key, known-hosts file).
:class:`RemoteConfig` says how to run a notebook on it (the remote python command, extra
environment variables, the working directory, the Jupyter kernel, time-outs and retries).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from segkit.remote.environment import MASK, mask_env
from segkit.validation import FieldChecker

__all__ = [
    "DEFAULT_REMOTE_PYTHON",
    "DEFAULT_READY_MARKER",
    "ENV_NAME",
    "RemoteConfigError",
    "SSHTarget",
    "RemoteConfig",
]

# Where the cloud-init script of infra_pulumi/ installs segkit and what it writes when done.
DEFAULT_REMOTE_PYTHON = "/opt/segkit/venv/bin/python"
DEFAULT_READY_MARKER = "/var/lib/segkit/ready"

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]*$")


class RemoteConfigError(ValueError):
    """An invalid remote setting; the message names the field, the value and what is allowed."""


_check = FieldChecker("remote setting", RemoteConfigError, lead="expected ")
_bad = _check.bad


def _from_mapping(cls: type, data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RemoteConfigError(f"{what}: expected a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RemoteConfigError(f"{what}: unknown field(s) {', '.join(unknown)}")
    return dict(data)


@dataclass(frozen=True)
class SSHTarget:
    """How to reach a machine over SSH.

    Parameters
    ----------
    host : str
        Host name or IP address.
    user : str
        Login name (``root`` on a fresh DigitalOcean droplet).
    port : int
        SSH port.
    identity : str, optional
        Private key file; ``None`` uses the SSH agent and ``~/.ssh`` keys.
    known_hosts : str, optional
        Known-hosts file (OpenSSH format) to check host keys against and record accepted ones
        in; ``None`` is ``~/.ssh/known_hosts``.
    accept_new_host_key : bool
        Accept the key of a host that is not in ``known_hosts`` yet and record it there
        (OpenSSH ``StrictHostKeyChecking=accept-new``). By default such a host is refused
        (:class:`~segkit.remote.hostkeys.UnknownHostKeyError`). A *changed* key is always
        refused.
    """

    host: str
    user: str = "root"
    port: int = 22
    identity: str | None = None
    known_hosts: str | None = None
    accept_new_host_key: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or any(c in self.host for c in " @/"):
            raise _bad("host", self.host, "a host name or IP address")
        if not isinstance(self.user, str) or not _USER.match(self.user):
            raise _bad("user", self.user, "a login name")
        _check.check_int("port", self.port, minimum=1, maximum=65535)
        if not isinstance(self.accept_new_host_key, bool):
            raise _bad("accept_new_host_key", self.accept_new_host_key, "true or false")

    @classmethod
    def parse(cls, spec: str, **options: Any) -> SSHTarget:
        """``"user@host"`` or ``"host"`` (user ``root``) plus keyword options."""
        user, sep, host = spec.rpartition("@")
        if sep:
            options.setdefault("user", user)
        return cls(host=host, **options)

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SSHTarget:
        return cls(**_from_mapping(cls, data, "ssh target"))


@dataclass(frozen=True)
class RemoteConfig:
    """How a notebook is run on the remote machine.

    Parameters
    ----------
    python : str
        The remote command that starts Python with segkit, papermill and ipykernel installed
        (it is run as ``PYTHON -m papermill ...``). May hold a prefix, e.g. ``"conda run -n
        seg python"``. Default: the virtual environment the cloud-init script creates.
    env : dict of str to str
        Extra environment variables for the remote run.
    workdir : str
        Remote working directory (relative to the login's home, or absolute). Data sets are
        synchronised into ``WORKDIR/data/NAME``, each run gets ``WORKDIR/jobs/ID``.
    kernel : str
        Jupyter kernel name papermill starts.
    connect_timeout : float
        Seconds for one SSH connection attempt.
    boot_timeout : float
        Seconds to wait for a new machine's SSH server and its ready marker.
    retries : int
        Attempts for a connection, an upload or a download before giving up.
    retry_delay : float
        Seconds between attempts (doubled each time, at most 30 s).
    poll_interval : float
        Seconds between two reads of the remote progress log.
    """

    python: str = DEFAULT_REMOTE_PYTHON
    env: dict[str, str] = field(
        default_factory=lambda: {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    )
    workdir: str = "segkit-remote"
    kernel: str = "python3"
    connect_timeout: float = 20.0
    boot_timeout: float = 1800.0
    retries: int = 5
    retry_delay: float = 2.0
    poll_interval: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.python, str) or not self.python.strip():
            raise _bad("python", self.python, "a command such as 'python3'")
        if not isinstance(self.env, dict):
            raise _bad("env", self.env, "a mapping of variable names to strings")
        for key, value in self.env.items():
            if not isinstance(key, str) or not ENV_NAME.match(key):
                raise _bad("env", key, "variable names of letters, digits and underscores")
            if not isinstance(value, str) or "\0" in value:  # the value itself is never shown
                raise _bad(f"env.{key}", MASK, f"a string without NUL (got {type(value).__name__})")
        if not isinstance(self.workdir, str) or not self.workdir.strip() or "\n" in self.workdir:
            raise _bad("workdir", self.workdir, "a directory path")
        if not isinstance(self.kernel, str) or not re.match(r"^[A-Za-z0-9._-]+$", self.kernel):
            raise _bad("kernel", self.kernel, "a Jupyter kernel name such as 'python3'")
        for name in ("connect_timeout", "boot_timeout", "retry_delay", "poll_interval"):
            _check.check_float(
                name,
                getattr(self, name),
                minimum=0,
                exclusive_minimum=True,
                expected="a positive number",
            )
        _check.check_int("retries", self.retries, minimum=1)

    def __repr__(self) -> str:  # env values may be secrets: shown masked
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["env"] = mask_env(self.env)
        return f"RemoteConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemoteConfig:
        return cls(**_from_mapping(cls, data, "remote config"))

    @classmethod
    def from_json(cls, text: str) -> RemoteConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RemoteConfigError(f"remote config: not valid JSON ({exc})") from None
        return cls.from_dict(data)
