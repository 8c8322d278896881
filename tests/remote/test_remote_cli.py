"""``segkit remote run``: the --stack flow with a fake provisioner, --host mode, missing Pulumi."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from segkit.cli import main
from segkit.commands import remote as remote_cmd

FIXTURES = Path(__file__).parent / "fixtures"
SENTINEL = "dop_v1_SENTINELTOKEN0123456789"


def _runtime_flags(cfg) -> list[str]:
    flags = ["--python", cfg.python, "--workdir", cfg.workdir]
    for name, value in cfg.env.items():
        flags += ["--env", f"{name}={value}"]
    return flags


@pytest.mark.remote
@pytest.mark.slow
def test_stack_flow_up_wait_run_fetch_destroy(
    sshd, remote_config, tmp_path, fake_provisioner, monkeypatch, capsys
):
    fake = fake_provisioner(tmp_path / "marker", ready_after=0.5, hourly=3.39)
    seen = {}

    def make(args):
        seen["stack"] = args.stack
        return fake

    monkeypatch.setattr(remote_cmd, "make_provisioner", make)
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", SENTINEL)
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("x")
    out = tmp_path / "out"
    code = main(
        [
            "remote",
            "run",
            str(FIXTURES / "summarize_data.ipynb"),
            "-p", "scale", "3",
            "--data", str(data),
            "--output", str(out),
            "--stack", "test",
            "--yes",
            *_runtime_flags(remote_config),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert seen["stack"] == "test"
    assert fake.calls == ["up", "destroy"]
    assert json.loads((out / "results" / "summary.json").read_text())["scaled"] == 3
    assert "executed notebook:" in captured.out
    assert "$3.39/h" in captured.err  # the estimate, before anything was created
    assert "machine time" in captured.out
    # The DigitalOcean token is never printed nor written by the run.
    assert SENTINEL not in captured.out + captured.err
    for path in out.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path


@pytest.mark.remote
def test_stack_without_yes_and_without_a_terminal_creates_nothing(
    tmp_path, fake_provisioner, monkeypatch, capsys
):
    fake = fake_provisioner(tmp_path / "marker")
    monkeypatch.setattr(remote_cmd, "make_provisioner", lambda args: fake)
    monkeypatch.setattr("sys.stdin", io.StringIO())  # no terminal to ask on
    code = main(
        ["remote", "run", str(FIXTURES / "divide.ipynb"), "--output", str(tmp_path / "o"),
         "--stack", "test"]
    )  # fmt: skip
    assert code == 1
    assert "--yes" in capsys.readouterr().err
    assert fake.calls == []


@pytest.mark.remote
def test_host_mode_reports_the_failing_cell(sshd, remote_config, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi (nor anything else) needed locally
    out = tmp_path / "out"
    code = main(
        [
            "remote", "run", str(FIXTURES / "divide.ipynb"),
            "-p", "divisor", "0",
            "--output", str(out),
            "--host", f"{sshd.user}@{sshd.host}",
            "--port", str(sshd.port),
            "--identity", str(sshd.identity),
            "--known-hosts", str(sshd.known_hosts),
            *_runtime_flags(remote_config),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "ratio = 1 / divisor" in err
    assert "ZeroDivisionError: division by zero" in err
    assert (out / "divide.ipynb").is_file()


def test_missing_pulumi_fails_at_once_with_install_instructions(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path))
    start = time.monotonic()
    code = main(
        ["remote", "run", str(FIXTURES / "divide.ipynb"), "--output", str(tmp_path / "o"),
         "--stack", "dev", "--yes"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert time.monotonic() - start < 5
    assert "curl -fsSL https://get.pulumi.com | sh" in err
    assert "https://www.pulumi.com/docs" in err
    assert not (tmp_path / "o").exists()


def test_bad_env_flag_names_the_flag(tmp_path):
    from segkit.cli import build_parser

    ns = build_parser().parse_args(
        ["remote", "run", "x.ipynb", "--output", "o", "--host", "h", "--env", "NOEQUALS"]
    )
    with pytest.raises(ValueError, match="--env number 1 .*NAME=VALUE") as info:
        remote_cmd.remote_config_from_args(ns)
    assert "NOEQUALS" not in str(info.value)  # it may be a secret
