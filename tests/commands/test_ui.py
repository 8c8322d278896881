from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from support import require

from segkit.cli import build_parser
from segkit.commands import ui


def test_form_notebook_shows_the_form(tmp_path):
    nb = json.loads(ui.form_notebook(tmp_path / "t.json"))
    source = "".join(nb["cells"][0]["source"])
    assert "TemplateForm(" in source and str(tmp_path / "t.json") in source
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_voila_command_binds_localhost_token_in_environment_only():
    cmd = ui.voila_command("a.ipynb", port=1234)
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=1234" in cmd
    assert not any(
        part.startswith(("--token", "--Voila.token", "--IdentityProvider")) for part in cmd
    )
    assert ui.voila_env("secret")["JUPYTER_TOKEN"] == "secret"
    port = ui.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # it really is free


def test_ui_is_a_subcommand():
    args = build_parser().parse_args(["ui", "--output", "x.json", "--port", "9999"])
    assert args.func is ui.run and args.port == 9999


def test_ui_refuses_missing_notebook(tmp_path):
    from segkit.cli import main

    assert main(["ui", "--notebook", str(tmp_path / "nope.ipynb")]) == 1


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_segkit_ui_serves_the_form(tmp_path):
    require(importlib.util.find_spec("voila") is not None, "voila is not installed")
    port = ui.free_port()
    env_dirs = {k: str(tmp_path / k) for k in ("JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segkit",
            "ui",
            "--port",
            str(port),
            "--output",
            str(tmp_path / "t.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env_dirs, "SEGKIT_UI_TOKEN": "tok-1234"},
        cwd=tmp_path,
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/?token=tok-1234" in first
        deadline = time.monotonic() + 45
        while True:
            try:
                url = f"http://127.0.0.1:{port}/?token=tok-1234"
                with urllib.request.urlopen(url, timeout=40) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "segkit ui did not answer"
                time.sleep(0.5)
        assert "template_form" in page
        group = _process_group(proc.pid)
        assert len(group) >= 2  # segkit ui and Voila (and its kernel)
        for pid in group:
            assert "tok-1234" not in _cmdline(pid), f"token on the command line of {pid}"
        with pytest.raises(urllib.error.HTTPError):  # no token, no form
            opener = urllib.request.build_opener(_NoRedirect)
            opener.open(f"http://127.0.0.1:{port}/", timeout=10)
        voila = [pid for pid in group if "voila" in _cmdline(pid)]
        proc.terminate()  # SIGTERM: segkit ui ends Voila and its kernels with it
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in voila) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in voila), "Voila outlived segkit ui"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return not fh.read().split(") ")[-1].startswith("Z")
    except OSError:
        return False


def _process_group(root: int) -> list[int]:
    """``root`` and its descendants (by parent pid), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().split(") ")[-1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += children
        frontier = children
    return found


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
