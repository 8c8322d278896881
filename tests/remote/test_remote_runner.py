"""The runner against a real OpenSSH server on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from segkit.remote import (
    NotebookFailedError,
    RunCancelledError,
    run_remote_notebook,
)

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.remote


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    for i in range(3):
        (data / "train" / f"img{i}.bin").write_bytes(bytes([i]) * (1000 + i))
    return data


@pytest.mark.slow
def test_host_run_uploads_runs_and_downloads(sshd, remote_config, tmp_path):
    data = _data(tmp_path)
    out = tmp_path / "out"
    stream = io.StringIO()
    lines: list[str] = []
    result = run_remote_notebook(
        FIXTURES / "summarize_data.ipynb",
        out,
        parameters={"scale": 10, "label": "from {data}"},
        data_dir=data,
        target=sshd.target(),
        config=remote_config,
        log=lines.append,
        stream=stream,
    )
    assert result.ok and result.exit_code == 0
    assert result.executed_notebook == out / "summarize_data.ipynb"
    summary = json.loads((out / "results" / "summary.json").read_text())
    assert summary["files"] == ["train/img0.bin", "train/img1.bin", "train/img2.bin"]
    assert summary["scaled"] == 30
    remote_data = Path(remote_config.workdir) / "data" / "data"
    assert summary["label"] == f"from {remote_data}"  # {data} substituted
    assert (out / "results" / "nested" / "blob.bin").read_bytes() == bytes(range(256)) * 64
    executed = json.loads(result.executed_notebook.read_text())
    injected = [
        c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert injected and f'data_dir = "{remote_data}"' in "".join(injected[0]["source"])
    assert "Executing" in stream.getvalue()  # papermill's progress was streamed
    assert json.loads((out / "remote.json").read_text())["exit_code"] == 0
    assert any("3 file(s) uploaded" in line for line in lines)

    # A second run uploads only what changed.
    (data / "train" / "img1.bin").write_bytes(b"changed")
    lines.clear()
    run_remote_notebook(
        FIXTURES / "summarize_data.ipynb",
        out,
        data_dir=data,
        target=sshd.target(),
        config=remote_config,
        log=lines.append,
        stream=io.StringIO(),
    )
    assert any("1 file(s) uploaded" in line and "2 unchanged" in line for line in lines), lines
    assert (remote_data / "train" / "img1.bin").read_bytes() == b"changed"


def test_failing_cell_is_reported_partial_notebook_downloaded_and_teardown_runs(
    remote_config, tmp_path, fake_provisioner
):
    fake = fake_provisioner(tmp_path / "marker")
    out = tmp_path / "out"
    lines: list[str] = []
    with pytest.raises(NotebookFailedError) as info:
        run_remote_notebook(
            FIXTURES / "divide.ipynb",
            out,
            provisioner=fake,
            config=remote_config,
            log=lines.append,
            stream=io.StringIO(),
        )
    err = info.value.error
    assert err is not None
    assert err.ename == "ZeroDivisionError"
    assert "ratio = 1 / divisor" in err.source
    assert err.index == 2  # the third cell of divide.ipynb as written
    message = str(info.value)
    assert "ratio = 1 / divisor" in message and "ZeroDivisionError" in message
    assert fake.calls == ["up", "destroy"]
    # The partial executed notebook and the files written before the failure came back.
    result = info.value.result
    assert result.executed_notebook == out / "divide.ipynb"
    assert (out / "before_failure.txt").read_text() == "written"
    assert not (out / "after_failure.txt").exists()
    assert any(
        "ZeroDivisionError" in json.dumps(c.get("outputs", []))
        for c in json.loads(result.executed_notebook.read_text())["cells"]
    )
    assert any("machine destroyed" in line for line in lines)
    assert any("machine time" in line and "$" in line for line in lines)


def test_ctrl_c_stops_the_run_and_destroys_the_machine(remote_config, tmp_path, fake_provisioner):
    fake = fake_provisioner(tmp_path / "marker", ready_after=0.0)

    class InterruptingStream(io.StringIO):
        def write(self, text: str) -> int:
            if "Executing Cell" in text:
                raise KeyboardInterrupt
            return super().write(text)

    with pytest.raises(KeyboardInterrupt):
        run_remote_notebook(
            FIXTURES / "divide.ipynb",
            tmp_path / "out",
            parameters={"sleep_s": 30.0, "divisor": 2},
            provisioner=fake,
            config=remote_config,
            log=lambda line: None,
            stream=InterruptingStream(),
        )
    assert fake.calls == ["up", "destroy"]
    # The remote papermill process group was stopped, not left running.
    (pid_file,) = Path(remote_config.workdir).glob("jobs/*/pid")
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
    assert not list(Path(remote_config.workdir).glob("jobs/*/exit_code"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it has finished
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_declining_the_cost_prompt_creates_nothing(remote_config, tmp_path, fake_provisioner):
    fake = fake_provisioner(tmp_path / "marker")
    questions: list[str] = []

    def confirm(question: str) -> bool:
        questions.append(question)
        return False

    with pytest.raises(RunCancelledError):
        run_remote_notebook(
            FIXTURES / "divide.ipynb",
            tmp_path / "out",
            provisioner=fake,
            config=remote_config,
            confirm=confirm,
            log=lambda line: None,
        )
    assert fake.calls == []
    assert "$3.39" in questions[0]


def test_setup_failure_marker_is_reported(remote_config, tmp_path, fake_provisioner):
    fake = fake_provisioner(tmp_path / "marker", ready_after=1000)
    (tmp_path / "marker").mkdir()
    (tmp_path / "marker" / "ready.failed").write_text("pip install tensorflow failed\n")
    with pytest.raises(Exception, match="pip install tensorflow failed"):
        run_remote_notebook(
            FIXTURES / "divide.ipynb",
            tmp_path / "out",
            provisioner=fake,
            config=remote_config,
            log=lambda line: None,
        )
    assert fake.calls == ["up", "destroy"]


def test_connection_dropped_during_the_run_is_resumed(sshd, remote_config, tmp_path, monkeypatch):
    from segkit.remote.ssh import SSHSession

    original = SSHSession.open_remote
    drops = {"n": 0, "log_reads": 0}

    def open_remote(self, path, mode="rb"):
        fh = original(self, path, mode)
        if path.endswith("papermill.log"):
            drops["log_reads"] += 1
            if drops["log_reads"] == 3:
                drops["n"] += 1
                self._client.get_transport().close()  # the line goes dead mid-read
        return fh

    monkeypatch.setattr(SSHSession, "open_remote", open_remote)
    lines: list[str] = []
    stream = io.StringIO()
    result = run_remote_notebook(
        FIXTURES / "divide.ipynb",
        tmp_path / "out",
        parameters={"divisor": 4, "sleep_s": 1.0},
        target=sshd.target(),
        config=remote_config,
        log=lines.append,
        stream=stream,
    )
    assert drops["n"] == 1
    assert any("retrying" in line for line in lines), lines
    assert result.ok
    assert "0.25" in stream.getvalue()  # the output after the drop still arrived
    assert (tmp_path / "out" / "after_failure.txt").read_text() == "never"


def test_keep_leaves_the_machine_running_and_says_so(remote_config, tmp_path, fake_provisioner):
    fake = fake_provisioner(tmp_path / "marker", ready_after=1000)
    (tmp_path / "marker").mkdir()
    (tmp_path / "marker" / "ready.failed").write_text("set-up failed\n")
    lines: list[str] = []
    with pytest.raises(Exception, match="set-up failed"):
        run_remote_notebook(
            FIXTURES / "divide.ipynb",
            tmp_path / "out",
            provisioner=fake,
            config=remote_config,
            keep=True,
            log=lines.append,
        )
    assert fake.calls == ["up"]
    assert any("--keep" in line and "still running" in line for line in lines)
