"""Bring a GPU machine up and tear it down: the :class:`Provisioner` protocol and its Pulumi
implementation (Automation API over the program in ``infra_pulumi/``).

The runner only talks to a :class:`Provisioner`, so tests inject a fake one that hands out a
local SSH server instead of a cloud machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from segkit.remote.config import DEFAULT_READY_MARKER, SSHTarget
from segkit.remote.cost import hourly_price

__all__ = [
    "DEFAULT_SIZE",
    "DEFAULT_IMAGE",
    "PROJECT",
    "PULUMI_INSTALL_HINT",
    "ProvisionError",
    "PulumiNotFoundError",
    "Machine",
    "Provisioner",
    "StackSettings",
    "PulumiProvisioner",
    "find_pulumi",
    "caller_install_spec",
    "anonymous_git_url",
    "check_no_password",
    "caller_tensorflow_spec",
    "default_infra_dir",
]

PROJECT = "segkit-gpu"
DEFAULT_SIZE = "gpu-h100x1-80gb"
DEFAULT_IMAGE = "gpu-h100x1-base"
PULUMI_INSTALL_HINT = (
    "the Pulumi CLI is not installed (or not on PATH). Install it with\n"
    "    curl -fsSL https://get.pulumi.com | sh\n"
    "then open a new shell (it installs to ~/.pulumi/bin); see "
    "https://www.pulumi.com/docs/iac/download-install/ . "
    "Runs on an existing machine (--host) do not need Pulumi."
)
_TOKEN_ENV = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")


class ProvisionError(RuntimeError):
    """Creating or destroying the cloud machine failed."""


class PulumiNotFoundError(ProvisionError):
    """The Pulumi CLI, which the Automation API drives, is missing."""


@dataclass(frozen=True)
class Machine:
    """A machine ready to receive SSH connections.

    ``ready_marker`` is a remote file that exists once set-up has finished (``None``: the
    machine is ready as soon as SSH answers); ``hourly_price`` is in US dollars.
    """

    target: SSHTarget
    hourly_price: float | None = None
    ready_marker: str | None = None
    name: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provisioner(Protocol):
    """Creates one machine and destroys it again."""

    def describe(self) -> str:
        """One line: what would be created (size, region, stack)."""
        ...

    def estimate_hourly(self) -> float | None:
        """The expected price per hour in US dollars, before anything is created."""
        ...

    def up(self, log: Callable[[str], None]) -> Machine:
        """Create (or update) the machine and return how to reach it."""
        ...

    def destroy(self, log: Callable[[str], None]) -> None:
        """Delete everything :meth:`up` created. Safe to call when nothing exists."""
        ...


def find_pulumi() -> str:
    """Path of the ``pulumi`` executable; raises :class:`PulumiNotFoundError` at once if absent."""
    found = shutil.which("pulumi")
    if found:
        return found
    home_bin = Path.home() / ".pulumi" / "bin" / "pulumi"
    if home_bin.is_file() and os.access(home_bin, os.X_OK):
        return str(home_bin)
    raise PulumiNotFoundError(PULUMI_INSTALL_HINT)


def default_infra_dir() -> Path:
    """``$SEGKIT_INFRA_DIR``, or ``infra_pulumi/`` beside the segkit package (a source checkout)."""
    env = os.environ.get("SEGKIT_INFRA_DIR")
    if env:
        return Path(env)
    import segkit

    return Path(segkit.__file__).resolve().parents[1] / "infra_pulumi"


_RELEASE = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?$")


def caller_install_spec(*, repo_url: str | None = None, extras: str = "gpu,notebooks") -> str:
    """The pip requirement that installs *this* segkit on the remote machine.

    A released version gives ``segkit[EXTRAS]==VERSION``. A source checkout gives
    ``segkit[EXTRAS] @ git+URL@COMMIT`` for its current commit (``repo_url`` defaults to the
    checkout's ``origin``). ``$SEGKIT_REMOTE_SPEC`` overrides both.
    """
    env = os.environ.get("SEGKIT_REMOTE_SPEC")
    if env:
        return env
    import segkit

    version = segkit.__version__
    if _RELEASE.match(version):
        return f"segkit[{extras}]=={version}"
    root = Path(segkit.__file__).resolve().parents[1]
    commit, url = (
        _git(root, "rev-parse", "HEAD"),
        repo_url or _git(root, "remote", "get-url", "origin"),
    )
    if commit and url:
        if _git(root, "status", "--porcelain", "--untracked-files=no", "--", "segkit"):
            print(
                f"warning: {root} has uncommitted changes to segkit/; the remote machine "
                f"installs commit {commit[:12]} without them",
                file=sys.stderr,
            )
        return f"segkit[{extras}] @ git+{anonymous_git_url(url, commit, extras)}@{commit}"
    raise ProvisionError(
        f"segkit {version} is a development build without a pushed git commit, so the remote "
        "machine cannot install the same code; pass --segkit-spec (a pip requirement, e.g. "
        "'segkit[gpu,notebooks] @ git+https://github.com/ORG/segkit@COMMIT') or set "
        "SEGKIT_REMOTE_SPEC"
    )


_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?([^@/:]+):(?!//)(.+)$")  # [user@]host:path
_PASSWORD_IN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s@:]*:[^/\s@]*@|https?://[^/\s@]+@")


def anonymous_git_url(url: str, commit: str, extras: str = "gpu,notebooks") -> str:
    """The git URL the remote machine clones segkit from: ``url`` when it is an ``https``,
    ``http`` or ``git`` URL without user-info; otherwise :class:`ProvisionError`, in one line
    that never repeats the user name or token.

    A machine segkit creates has no credentials, so an origin that needs them (a user name or
    token in the URL, an SSH URL) cannot work there, and copying them into the stack's config
    and the droplet's user-data would publish them.
    """
    parts = urlsplit(url)
    scp = None if parts.scheme else _SCP_LIKE.match(url)
    public = ""  # the same repository over anonymous https, for the hint
    if parts.scheme in ("https", "http", "git") and parts.hostname:
        if "@" not in parts.netloc:
            return url
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        why, public = "carries a user name or token", shown
    elif parts.scheme == "ssh" or scp:
        host, path = scp.groups() if scp else (parts.hostname, parts.path.lstrip("/"))
        shown, why, public = f"{host}:{path}", "is an SSH URL", f"https://{host}/{path}"
    else:
        shown, why = url, "is a path or URL the remote machine cannot reach"
    hint = f"; if it is public: --segkit-spec 'segkit[{extras}] @ git+{public}@{commit}'"
    secret = (
        "the remote machine has no credentials and must not receive yours (they would be "
        "stored in plain text in the stack's config and the droplet's user-data)"
    )
    raise ProvisionError(
        f"segkit's git origin ({shown}) {why}: {secret if public else 'it cannot clone it'}; "
        "pass --segkit-spec with a requirement it can install anonymously (a public "
        "repository, a package index), or install from a repository the machine reaches with "
        f"a deploy key{hint if public else ''}"
    )


def check_no_password(spec: str, what: str) -> None:
    """Refuse a pip requirement whose URL carries a password or token (``user:secret@``): it
    would be stored in plain text in the stack's config and the droplet's user-data."""
    if _PASSWORD_IN_URL.search(spec):
        raise ProvisionError(
            f"{what} carries a password or token in a URL (user:***@host), which would be "
            "stored in plain text in the stack's config and the droplet's user-data; use a "
            "URL that needs no credentials, or a repository the machine reaches with a "
            "deploy key"
        )


def caller_tensorflow_spec() -> str | None:
    """``tensorflow[and-cuda]==X.Y.Z`` for the TensorFlow installed here (CPU or GPU build), so
    the remote machine trains with the same version; ``None`` when TensorFlow is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("tensorflow", "tensorflow-cpu"):
        try:
            return f"tensorflow[and-cuda]=={version(dist)}"
        except PackageNotFoundError:
            continue
    return None


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


@dataclass(frozen=True)
class StackSettings:
    """What :class:`PulumiProvisioner` sets on the stack before ``pulumi up``.

    ``None`` leaves the stack's own configuration (``pulumi config set ...``) in force.
    """

    stack: str
    infra_dir: str | None = None
    size: str | None = None
    region: str | None = None
    ssh_cidr: str | None = None
    allow_world_ssh: bool = False
    segkit_spec: str | None = None
    tensorflow_spec: str | None = None
    state_dir: str | None = None

    def __post_init__(self) -> None:
        if not re.match(r"^[A-Za-z0-9._/-]+$", self.stack or ""):
            raise ValueError(f"stack name {self.stack!r}: use letters, digits, '.', '_', '-', '/'")


class PulumiProvisioner:
    """A :class:`Provisioner` that runs the ``infra_pulumi/`` program with the Automation API.

    The DigitalOcean token is never handled here: Pulumi reads it from the stack's secret
    ``digitalocean:token`` or from ``$DIGITALOCEAN_TOKEN``. An SSH key pair for the machine is
    generated under ``state_dir`` (default ``~/.segkit/remote/STACK``).
    """

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.pulumi = find_pulumi()  # fail at once, before any prompt
        self.infra_dir = Path(settings.infra_dir) if settings.infra_dir else default_infra_dir()
        if not (self.infra_dir / "Pulumi.yaml").is_file():
            raise ProvisionError(
                f"{self.infra_dir}: no Pulumi.yaml; pass --infra-dir (the infra_pulumi/ folder "
                "of the segkit source) or set SEGKIT_INFRA_DIR"
            )
        safe = settings.stack.replace("/", "_")
        default_state = Path.home() / ".segkit" / "remote" / safe
        self.state_dir = Path(settings.state_dir) if settings.state_dir else default_state

    def describe(self) -> str:
        s = self.settings
        size = s.size or "the stack's size (default " + DEFAULT_SIZE + ")"
        return (
            f"a DigitalOcean droplet {size} in {s.region or 'the stack region'} (stack {s.stack})"
        )

    def estimate_hourly(self) -> float | None:
        return hourly_price(self.settings.size or DEFAULT_SIZE)

    # -- keys ---------------------------------------------------------------------------------
    def _key_pair(self) -> tuple[Path, str]:
        import paramiko

        key_path = self.state_dir / "id_rsa"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not key_path.is_file():
            key = paramiko.RSAKey.generate(3072)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                key.write_private_key(fh)
        key = paramiko.RSAKey.from_private_key_file(str(key_path))
        return key_path, f"ssh-rsa {key.get_base64()} segkit-{self.settings.stack}"

    # -- pulumi -------------------------------------------------------------------------------
    def _stack(self) -> Any:
        from pulumi import automation as auto

        opts = auto.LocalWorkspaceOptions(
            work_dir=str(self.infra_dir),
            env_vars={"PULUMI_PYTHON_CMD": sys.executable},
            pulumi_command=auto.PulumiCommand(root=str(Path(self.pulumi).parent.parent)),
        )
        return auto.create_or_select_stack(
            stack_name=self.settings.stack, work_dir=str(self.infra_dir), opts=opts
        )

    def _configure(self, stack: Any, public_key: str) -> None:
        from pulumi import automation as auto

        s = self.settings
        segkit_spec = s.segkit_spec or caller_install_spec()
        check_no_password(segkit_spec, "--segkit-spec" if s.segkit_spec else "the segkit spec")
        if s.tensorflow_spec:
            check_no_password(s.tensorflow_spec, "the tensorflow spec")
        values = {
            "sshPublicKey": public_key,
            "segkitSpec": segkit_spec,
            "size": s.size,
            "region": s.region,
            "sshCidr": s.ssh_cidr,
            "tensorflowSpec": s.tensorflow_spec or caller_tensorflow_spec(),
            "allowWorldSsh": "true" if s.allow_world_ssh else None,
        }
        for key, value in values.items():
            if value is not None:
                stack.set_config(f"{PROJECT}:{key}", auto.ConfigValue(value=value))
        config = stack.get_all_config()
        if f"{PROJECT}:sshCidr" not in config:
            raise ProvisionError(
                f"stack {s.stack}: no SSH source range; pass --ssh-cidr YOUR.PUBLIC.IP/32 or run "
                f"`pulumi config set {PROJECT}:sshCidr YOUR.PUBLIC.IP/32` in {self.infra_dir}"
            )
        if "digitalocean:token" not in config and not any(os.environ.get(k) for k in _TOKEN_ENV):
            raise ProvisionError(
                f"stack {s.stack}: no DigitalOcean token; run `pulumi config set --secret "
                f"digitalocean:token` in {self.infra_dir} (or export DIGITALOCEAN_TOKEN)"
            )

    def up(self, log: Callable[[str], None]) -> Machine:
        key_path, public_key = self._key_pair()
        stack = self._stack()
        self._configure(stack, public_key)
        log(f"pulumi up (stack {self.settings.stack}) ...")
        try:
            result = stack.up(
                on_output=lambda line: log(line.rstrip()), show_secrets=False, color="never"
            )
        except Exception as exc:  # noqa: BLE001 - the Automation API raises many kinds
            raise ProvisionError(
                f"pulumi up failed for stack {self.settings.stack}: {exc}"
            ) from exc
        out = {k: v.value for k, v in result.outputs.items()}
        # Trust on first contact, for the droplet just created only: its key is recorded per
        # stack and checked on every later connection of the run.
        known_hosts = self.state_dir / "known_hosts"
        known_hosts.unlink(missing_ok=True)  # a new droplet has a new host key
        target = SSHTarget(
            host=str(out["ipv4"]),
            user="root",
            identity=str(key_path),
            known_hosts=str(known_hosts),
            accept_new_host_key=True,
        )
        price = out.get("price_hourly")
        return Machine(
            target=target,
            hourly_price=float(price) if price is not None else self.estimate_hourly(),
            ready_marker=str(out.get("ready_marker") or DEFAULT_READY_MARKER),
            name=str(out.get("droplet_name", "")),
            details={"droplet_id": out.get("droplet_id"), "stack": self.settings.stack},
        )

    def destroy(self, log: Callable[[str], None]) -> None:
        stack = self._stack()
        log(f"pulumi destroy (stack {self.settings.stack}) ...")
        try:
            stack.destroy(
                on_output=lambda line: log(line.rstrip()), show_secrets=False, color="never"
            )
        except Exception as exc:  # noqa: BLE001
            raise ProvisionError(
                f"pulumi destroy failed for stack {self.settings.stack}: {exc}\n"
                f"Destroy it by hand: cd {self.infra_dir} && "
                f"pulumi destroy --stack {self.settings.stack}"
            ) from exc
        (self.state_dir / "known_hosts").unlink(missing_ok=True)
