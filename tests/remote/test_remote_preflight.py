"""``segkit remote run --host``: the remote python3 by default, and a one-line refusal when the
remote interpreter lacks segkit, papermill or the kernel (checked before anything is uploaded).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from segkit.cli import build_parser, main
from segkit.commands import remote as remote_cmd
from segkit.remote.config import DEFAULT_REMOTE_PYTHON

FIXTURES = Path(__file__).parent / "fixtures"


def _config(argv: list[str]):
    args = build_parser().parse_args(["remote", "run", "x.ipynb", "--output", "o", *argv])
    return remote_cmd.remote_config_from_args(args)


def test_host_runs_the_remote_python3_and_stack_the_provisioned_venv(tmp_path):
    assert _config(["--host", "h"]).python == "python3"
    assert _config(["--stack", "dev"]).python == DEFAULT_REMOTE_PYTHON
    assert _config(["--host", "h", "--python", "/srv/py"]).python == "/srv/py"
    with_python = tmp_path / "with.json"
    with_python.write_text(json.dumps({"python": "conda run -n seg python"}))
    assert _config(["--host", "h", "--config", str(with_python)]).python == (
        "conda run -n seg python"
    )
    without = tmp_path / "without.json"
    without.write_text(json.dumps({"workdir": "w"}))
    assert _config(["--host", "h", "--config", str(without)]).python == "python3"


def _run_on_sshd(sshd, remote_config, tmp_path, *flags: str) -> int:
    code = main(
        [
            "remote", "run", str(FIXTURES / "divide.ipynb"),
            "--output", str(tmp_path / "out"),
            "--host", f"{sshd.user}@{sshd.host}",
            "--port", str(sshd.port),
            "--identity", str(sshd.identity),
            "--known-hosts", str(sshd.known_hosts),
            "--workdir", remote_config.workdir,
            *flags,
        ]
    )  # fmt: skip
    return code


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("segkit remote run: error:")]


@pytest.fixture
def bare_python(tmp_path: Path) -> Path:
    """A virtual environment without segkit, papermill or ipykernel."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python"


@pytest.mark.remote
def test_python_without_papermill_is_refused_in_one_line(
    sshd, remote_config, tmp_path, bare_python, capsys
):
    code = _run_on_sshd(sshd, remote_config, tmp_path, "--python", str(bare_python))
    err = capsys.readouterr().err
    assert code == 1
    (line,) = _error_lines(err)
    assert sshd.host in line and "papermill" in line and "segkit" in line
    assert f"{bare_python} -m pip install" in line
    assert "Traceback" not in err
    # Refused before anything was uploaded or created.
    assert not Path(remote_config.workdir).exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.remote
def test_missing_kernel_names_it_and_the_command_that_installs_it(
    sshd, remote_config, tmp_path, capsys
):
    code = _run_on_sshd(
        sshd, remote_config, tmp_path, "--python", sys.executable, "--kernel", "no-such-kernel"
    )
    err = capsys.readouterr().err
    assert code == 1
    (line,) = _error_lines(err)
    assert "the Jupyter kernel 'no-such-kernel'" in line
    assert "papermill" not in line.split("lacks")[1].split(";")[0]
    assert f"{sys.executable} -m ipykernel install --user --name no-such-kernel" in line
    assert "Traceback" not in err


@pytest.mark.remote
def test_missing_interpreter_is_named(sshd, remote_config, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "python3"
    code = _run_on_sshd(sshd, remote_config, tmp_path, "--python", str(missing))
    err = capsys.readouterr().err
    assert code == 1
    (line,) = _error_lines(err)
    assert f"remote python '{missing}' not found" in line and sshd.host in line
    assert "Traceback" not in err
