"""A real OpenSSH server on 127.0.0.1 standing in for the GPU droplet.

The ``sshd`` fixture generates a host key and a user key, writes an ``sshd_config`` that only
listens on 127.0.0.1 on a free port and only accepts that user key, and runs ``/usr/sbin/sshd -D``
for the test session. The remote python is the interpreter running the tests.
"""

from __future__ import annotations

import getpass
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


def _root_conftest():
    """tests/conftest.py, loaded by path (conftest modules share one name in sys.modules)."""
    name = "_segkit_root_conftest"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


require = _root_conftest().require
SSHD = Path("/usr/sbin/sshd")
FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class LocalSSHD:
    host: str
    port: int
    user: str
    identity: Path
    known_hosts: Path
    root: Path

    @property
    def host_key(self) -> Path:
        """The server's public host key (``ssh-ed25519 AAAA...``)."""
        return self.root / "host_key.pub"

    def target(self, **options: object):
        from segkit.remote import SSHTarget

        options.setdefault("known_hosts", str(self.known_hosts))
        return SSHTarget(
            host=self.host,
            port=self.port,
            user=self.user,
            identity=str(self.identity),
            **options,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """A running sshd on 127.0.0.1 that accepts a generated key for the current user."""
    require(SSHD.is_file(), "OpenSSH server not installed (apt-get install openssh-server)")
    require(shutil.which("ssh-keygen") is not None, "ssh-keygen not installed (openssh-client)")
    root = tmp_path_factory.mktemp("sshd")
    _keygen(root / "host_key")
    _keygen(root / "user_key")
    (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
    port = _free_port()
    config = root / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {root / 'host_key'}",
                f"AuthorizedKeysFile {root / 'authorized_keys'}",
                f"PidFile {root / 'sshd.pid'}",
                "PermitRootLogin yes",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "MaxSessions 50",
                "MaxStartups 50",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    log = open(root / "sshd.log", "wb")  # noqa: SIM115 - kept open while sshd runs
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "sshd did not start: " + (root / "sshd.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.05)
        # The host key is known, as after `ssh-keyscan -p PORT 127.0.0.1 >> known_hosts`.
        host_key = (root / "host_key.pub").read_text().split()
        (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        yield LocalSSHD(
            host="127.0.0.1",
            port=port,
            user=getpass.getuser(),
            identity=root / "user_key",
            known_hosts=root / "known_hosts",
            root=root,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def remote_config(tmp_path: Path):
    """A RemoteConfig for the local sshd: this interpreter, a temporary remote home, fast polls."""
    from segkit.remote import RemoteConfig

    return RemoteConfig(
        python=sys.executable,
        workdir=str(tmp_path / "remote_home"),
        env={
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "KERAS_BACKEND": "tensorflow",
            "MPLBACKEND": "Agg",
            "PYTHONUNBUFFERED": "1",
        },
        connect_timeout=5.0,
        boot_timeout=60.0,
        retries=3,
        retry_delay=0.05,
        poll_interval=0.2,
    )


class FakeProvisioner:
    """Hands out the local sshd as the 'droplet' and records what was asked of it.

    The ready marker appears ``ready_after`` seconds after ``up``, as cloud-init would write it.
    """

    def __init__(self, sshd, marker_dir: Path, *, ready_after: float = 0.3, hourly: float = 3.39):
        self.sshd = sshd
        self.marker = marker_dir / "ready"
        self.ready_after = ready_after
        self.hourly = hourly
        self.calls: list[str] = []

    def describe(self) -> str:
        return "a fake droplet (local sshd)"

    def estimate_hourly(self) -> float:
        return self.hourly

    def up(self, log):
        from segkit.remote import Machine

        self.calls.append("up")
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self._timer = threading.Timer(self.ready_after, self.marker.write_text, args=("ok\n",))
        self._timer.daemon = True
        self._timer.start()
        # Like PulumiProvisioner: a fresh per-stack known-hosts file, trust on first contact.
        known_hosts = self.marker.parent / "known_hosts"
        known_hosts.unlink(missing_ok=True)
        return Machine(
            target=self.sshd.target(known_hosts=str(known_hosts), accept_new_host_key=True),
            hourly_price=self.hourly,
            ready_marker=str(self.marker),
            name="fake",
        )

    def destroy(self, log):
        self.calls.append("destroy")
        self._timer.cancel()
        self.marker.unlink(missing_ok=True)


@pytest.fixture
def fake_provisioner(sshd):
    """``fake_provisioner(marker_dir, ready_after=..., hourly=...)`` -> a FakeProvisioner."""

    def make(marker_dir: Path, **options: float) -> FakeProvisioner:
        return FakeProvisioner(sshd, marker_dir, **options)

    return make
