"""Secrets stay secret: an ``--env`` value planted in a run against the local sshd shows up in no
output, no file segkit writes (here or on the remote side) and no process's argv during the run.
(The origin-URL credential is planted in test_remote_provision.py.)"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from pathlib import Path

import pytest

from segkit.cli import main
from segkit.commands import remote as remote_cmd
from segkit.remote.config import RemoteConfig, RemoteConfigError

FIXTURES = Path(__file__).parent / "fixtures"


class ArgvWatcher:
    """Reads ``/proc/*/cmdline`` of every process in a loop and records those holding ``needle``."""

    def __init__(self, needle: str) -> None:
        self.needle = needle.encode()
        self.hits: dict[str, bytes] = {}
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    argv = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if self.needle in argv:
                    self.hits[proc.name] = argv.replace(self.needle, b"<SECRET>")
            self.scans += 1
            self._stop.wait(0.01)

    def __enter__(self) -> ArgvWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _files_holding(needle: str, *roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for path in [root, *root.rglob("*")] if root.exists() else []:
            if path.is_file() and needle.encode() in path.read_bytes():
                found.append(path)
    return found


def _host_flags(sshd, cfg: RemoteConfig, out: Path) -> list[str]:
    return [
        "--output", str(out),
        "--host", f"{sshd.user}@{sshd.host}",
        "--port", str(sshd.port),
        "--identity", str(sshd.identity),
        "--known-hosts", str(sshd.known_hosts),
        "--python", cfg.python,
        "--workdir", cfg.workdir,
    ]  # fmt: skip


@pytest.mark.remote
@pytest.mark.slow
def test_env_secret_reaches_the_notebook_and_nowhere_else(sshd, remote_config, tmp_path, capsys):
    secret = f"SEKRET-{uuid.uuid4()}"
    out = tmp_path / "out"
    with ArgvWatcher(secret) as watcher:
        code = main(
            [
                "remote", "run", str(FIXTURES / "argv_scan.ipynb"),
                "-p", "secret_var", "SEGKIT_TEST_SECRET",
                "--env", f"SEGKIT_TEST_SECRET={secret}",
                "--env", "PYTHONUNBUFFERED=1",
                *_host_flags(sshd, remote_config, out),
            ]
        )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    scan = json.loads((out / "argv_scan.json").read_text())
    assert scan["env_sha256"] == hashlib.sha256(secret.encode()).hexdigest()  # it arrived
    assert scan["argv_hits"] == [] and scan["scanned"] > 0  # seen from inside the notebook
    assert watcher.scans > 10 and watcher.hits == {}, watcher.hits  # seen from outside
    assert secret not in captured.out + captured.err
    remote_home = Path(remote_config.workdir)
    assert _files_holding(secret, out, remote_home, sshd.root) == []
    record = json.loads((out / "remote.json").read_text())
    assert record["env"]["SEGKIT_TEST_SECRET"] == "***"  # names only
    assert set(record["env"].values()) == {"***"}
    assert not list(remote_home.rglob(".env*"))  # no environment file was left behind


@pytest.mark.remote
def test_env_secret_is_not_in_the_messages_of_a_failed_run(sshd, remote_config, tmp_path, capsys):
    secret = f"SEKRET-{uuid.uuid4()}"
    flags = _host_flags(sshd, remote_config, tmp_path / "out")
    flags[flags.index("--python") + 1] = str(tmp_path / "no-such-python")
    with ArgvWatcher(secret) as watcher:
        code = main(
            ["remote", "run", str(FIXTURES / "divide.ipynb"), "--env", f"TOKEN={secret}", *flags]
        )
    err = capsys.readouterr().err
    assert code == 1 and "not found" in err
    assert secret not in err
    assert watcher.hits == {}


def test_env_values_are_masked_in_repr_and_errors(tmp_path):
    secret = f"SEKRET-{uuid.uuid4()}"
    cfg = RemoteConfig(env={"TOKEN": secret})
    assert secret not in repr(cfg) and "env={'TOKEN': '***'}" in repr(cfg)
    with pytest.raises(RemoteConfigError) as info:
        RemoteConfig.from_dict({"env": {"TOKEN": 12345678901}})
    assert "12345678901" not in str(info.value) and "'env.TOKEN'" in str(info.value)
    from segkit.cli import build_parser

    for bad in (secret, f"BAD-NAME={secret}", f"={secret}"):
        ns = build_parser().parse_args(
            ["remote", "run", "x.ipynb", "--output", "o", "--host", "h", "--env", bad]
        )
        with pytest.raises(ValueError) as info:
            remote_cmd.remote_config_from_args(ns)
        assert secret not in str(info.value), bad
        assert "--env" in str(info.value) or "'env'" in str(info.value)
