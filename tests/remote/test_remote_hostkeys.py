"""Host keys fail closed: the policy alone, then `segkit remote run --host` against sshd."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from support import require_module

from segkit.cli import main
from segkit.remote.hostkeys import (
    HostKeyError,
    UnknownHostKeyError,
    fingerprint,
    host_key_policy,
    known_hosts_name,
    record_host_key,
)

paramiko = require_module("paramiko", "the infra extra: pip install -e '.[infra]'")
FIXTURES = Path(__file__).parent / "fixtures"
OTHER = (
    "other.example.org ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
)
HASHED = "|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|aGFzaGhhc2hoYXNoaGFzaGhhc2g= " + OTHER.split(" ", 1)[1]


class FakeClient:
    def __init__(self) -> None:
        self.keys = paramiko.HostKeys()

    def get_host_keys(self):
        return self.keys


def _key():
    return paramiko.Ed25519Key.from_private_key_file(_keyfile())


_KEYS: list[str] = []


def _keyfile() -> str:
    if not _KEYS:
        import tempfile

        path = Path(tempfile.mkdtemp()) / "k"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
            check=True,
            capture_output=True,
        )
        _KEYS.append(str(path))
    return _KEYS[0]


needs_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen")


def test_known_hosts_name_brackets_other_ports():
    assert known_hosts_name("gpu.example.org", 22) == "gpu.example.org"
    assert known_hosts_name("10.0.0.5", 2222) == "[10.0.0.5]:2222"


def test_policy_is_a_paramiko_policy():
    assert isinstance(host_key_policy("kh", accept_new=False), paramiko.MissingHostKeyPolicy)


@needs_keygen
def test_fingerprint_is_the_one_ssh_keygen_shows():
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-f", _keyfile() + ".pub"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert fingerprint(_key()) == shown


@needs_keygen
def test_unknown_key_is_refused_without_accept_new(tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text(OTHER)
    policy = host_key_policy(kh, accept_new=False)
    client = FakeClient()
    with pytest.raises(UnknownHostKeyError) as info:
        policy.missing_host_key(client, "[10.0.0.5]:2222", _key())
    message = str(info.value)
    assert "\n" not in message
    assert (
        f"host key of [10.0.0.5]:2222 (ssh-ed25519 {fingerprint(_key())}) is not known" in message
    )
    assert "--accept-new-host-key" in message
    assert f"ssh-keyscan -p 2222 10.0.0.5 >> {kh}" in message
    assert "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" in message
    assert kh.read_text() == OTHER  # nothing recorded
    assert len(client.keys) == 0


@needs_keygen
def test_accept_new_records_the_key_and_keeps_other_entries(tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text("# my hosts\n" + OTHER + HASHED.rstrip("\n"))  # no final newline
    kh.chmod(0o644)
    client = FakeClient()
    host_key_policy(kh, accept_new=True).missing_host_key(client, "[10.0.0.5]:2222", _key())
    key = _key()
    lines = kh.read_text().splitlines()
    assert lines[:3] == ["# my hosts", OTHER.strip(), HASHED.strip()]
    assert lines[3] == f"[10.0.0.5]:2222 ssh-ed25519 {key.get_base64()}"
    assert stat.S_IMODE(kh.stat().st_mode) == 0o644
    assert client.keys.lookup("[10.0.0.5]:2222")["ssh-ed25519"] == key
    assert not [p for p in tmp_path.iterdir() if p.name != "known_hosts"]  # no temporary left
    # paramiko reads the file back (and would now see a changed key as changed)
    loaded = paramiko.HostKeys(str(kh))
    assert loaded.lookup("[10.0.0.5]:2222")["ssh-ed25519"] == key


@needs_keygen
def test_a_new_file_is_private_and_a_symlink_stays(tmp_path):
    kh = tmp_path / "ssh" / "known_hosts"
    record_host_key(kh, "h", _key())
    assert stat.S_IMODE(kh.stat().st_mode) == 0o600
    assert stat.S_IMODE(kh.parent.stat().st_mode) == 0o700
    link = tmp_path / "link"
    link.symlink_to(kh)
    record_host_key(link, "h2", _key())
    assert link.is_symlink() and len(kh.read_text().splitlines()) == 2


def test_an_unreadable_known_hosts_file_is_refused(tmp_path):
    from segkit.remote.hostkeys import use_known_hosts

    kh = tmp_path / "known_hosts"
    kh.write_text("h ssh-rsa AAAAB3NzaC1yc2E=\n")  # a truncated RSA key
    with pytest.raises(HostKeyError, match="cannot read the known-hosts file"):
        use_known_hosts(paramiko.SSHClient(), str(kh), accept_new=True)


@needs_keygen
def test_a_revoked_key_is_refused_even_with_accept_new(tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text(f"@revoked * ssh-ed25519 {_key().get_base64()}\n")
    with pytest.raises(HostKeyError, match="@revoked"):
        host_key_policy(kh, accept_new=True).missing_host_key(FakeClient(), "h", _key())


# -- against the local sshd ----------------------------------------------------------------------
def _run(sshd, remote_config, tmp_path, known_hosts: Path, *flags: str) -> int:
    return main(
        [
            "remote", "run", str(FIXTURES / "divide.ipynb"),
            "-p", "divisor", "2",
            "--output", str(tmp_path / "out"),
            "--host", f"{sshd.user}@{sshd.host}",
            "--port", str(sshd.port),
            "--identity", str(sshd.identity),
            "--known-hosts", str(known_hosts),
            "--python", remote_config.python,
            "--workdir", remote_config.workdir,
            *flags,
        ]
    )  # fmt: skip


@pytest.mark.remote
@pytest.mark.slow
def test_host_keys_fail_closed_against_sshd(sshd, remote_config, tmp_path, capsys):
    kh = tmp_path / "known_hosts"
    kh.write_text(OTHER)
    name = f"[127.0.0.1]:{sshd.port}"
    algo, blob = sshd.host_key.read_text().split()[:2]

    # 1. Unknown: refused in one line, nothing uploaded, nothing recorded.
    assert _run(sshd, remote_config, tmp_path, kh) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert err.startswith(f"segkit remote run: error: host key of {name} ({algo} SHA256:")
    assert "--accept-new-host-key" in err and f"ssh-keyscan -p {sshd.port} 127.0.0.1" in err
    assert not Path(remote_config.workdir).exists()  # nothing was uploaded
    assert kh.read_text() == OTHER

    # 2. --accept-new-host-key: accepted and recorded (other entries kept).
    assert _run(sshd, remote_config, tmp_path, kh, "--accept-new-host-key") == 0, (
        capsys.readouterr()
    )
    capsys.readouterr()
    assert kh.read_text() == OTHER + f"{name} {algo} {blob}\n"

    # 3. Later runs are checked against the record and need no flag.
    assert _run(sshd, remote_config, tmp_path, kh) == 0, capsys.readouterr()
    capsys.readouterr()

    # 4. A changed key is refused, even with --accept-new-host-key.
    other_key = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)],
        check=True,
        capture_output=True,
    )
    wrong = (tmp_path / "other_key.pub").read_text().split()[1]
    kh.write_text(OTHER + f"{name} {algo} {wrong}\n")
    jobs = sorted(os.listdir(Path(remote_config.workdir) / "jobs"))
    assert _run(sshd, remote_config, tmp_path, kh, "--accept-new-host-key") == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert f"host key of {name} CHANGED" in err and "ssh-keygen -R" in err
    assert sorted(os.listdir(Path(remote_config.workdir) / "jobs")) == jobs  # no new job
    assert kh.read_text() == OTHER + f"{name} {algo} {wrong}\n"
