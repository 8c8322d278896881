"""The cloud-init script, executed for real with stand-ins for apt-get, python3 and pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra_pulumi"
SPEC = "segkit[gpu,notebooks] @ git+https://github.com/example/segkit@0123456789abcdef"

# python3 stand-in: `python3 -m venv DIR` creates DIR/bin/python, a stand-in that records its
# arguments and fails `pip install` when $FAIL_PIP is set.
FAKE_PYTHON3 = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  cat > "$3/bin/python" <<'INNER'
#!/bin/sh
echo "$@" >> "$CALLS"
if [ "$2" = "pip" ] && [ "$3" = "install" ] && [ -n "$FAIL_PIP" ]; then
  echo "ERROR: No matching distribution found for tensorflow" >&2; exit 1
fi
if [ "$1" = "-c" ]; then echo '{"segkit": "x", "tensorflow": "y", "gpus": []}'; fi
exit 0
INNER
  chmod +x "$3/bin/python"
fi
"""


@pytest.fixture
def cloud_init(monkeypatch):
    monkeypatch.syspath_prepend(str(INFRA))
    sys.modules.pop("cloud_init", None)
    import cloud_init

    yield cloud_init
    sys.modules.pop("cloud_init", None)


def _run(script: str, tmp_path: Path, *, fail_pip: bool) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "python3").write_text(FAKE_PYTHON3)
    for p in bin_dir.iterdir():
        p.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls.txt"),
        **({"FAIL_PIP": "1"} if fail_pip else {}),
    }
    path = tmp_path / "user_data.sh"
    path.write_text(script)
    return subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=60)


def _build(cloud_init, tmp_path: Path) -> str:
    return cloud_init.build_user_data(
        SPEC,
        tensorflow_spec="tensorflow[and-cuda]==2.21.0",
        ready_marker=str(tmp_path / "state" / "ready"),
        venv=str(tmp_path / "venv"),
        log_path=str(tmp_path / "setup.log"),
    )


def test_script_installs_the_callers_segkit_and_writes_the_ready_marker(cloud_init, tmp_path):
    proc = _run(_build(cloud_init, tmp_path), tmp_path, fail_pip=False)
    assert proc.returncode == 0, proc.stderr + (tmp_path / "setup.log").read_text()
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert f"-m pip install tensorflow[and-cuda]==2.21.0 {SPEC}" in calls
    assert "-m ipykernel install --sys-prefix --name python3" in calls
    assert (tmp_path / "state" / "ready").read_text() == "ok\n"
    assert not (tmp_path / "state" / "ready.failed").exists()
    assert (tmp_path / "state" / "versions.json").read_text().startswith("{")


def test_failed_install_writes_the_failure_marker_with_the_log(cloud_init, tmp_path):
    proc = _run(_build(cloud_init, tmp_path), tmp_path, fail_pip=True)
    assert proc.returncode != 0
    assert not (tmp_path / "state" / "ready").exists()
    failed = (tmp_path / "state" / "ready.failed").read_text()
    assert "No matching distribution found for tensorflow" in failed


def test_paths_match_what_the_runner_expects(cloud_init):
    from segkit.remote.config import DEFAULT_READY_MARKER, DEFAULT_REMOTE_PYTHON

    assert f"{cloud_init.VENV}/bin/python" == DEFAULT_REMOTE_PYTHON
    assert DEFAULT_READY_MARKER == cloud_init.READY_MARKER


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"segkit_spec": "segkit\nrm -rf /"}, "segkit_spec"),
        ({"segkit_spec": " "}, "segkit_spec"),
        ({"segkit_spec": "segkit", "ready_marker": "relative/ready"}, "ready_marker"),
        ({"segkit_spec": "segkit", "venv": "/opt/my venv"}, "venv"),
    ],
)
def test_invalid_values_are_refused(cloud_init, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cloud_init.build_user_data(**kwargs)


def test_script_is_valid_bash(cloud_init, tmp_path):
    path = tmp_path / "u.sh"
    path.write_text(cloud_init.build_user_data("segkit==1.0"))
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    assert os.access(path, os.R_OK)
