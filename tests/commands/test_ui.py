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


def test_voila_command_binds_localhost_with_token():
    cmd = ui.voila_command("a.ipynb", port=1234, token="secret")
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=1234" in cmd and "--token=secret" in cmd
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
            "--token",
            "tok",
            "--output",
            str(tmp_path / "t.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env_dirs},
        cwd=tmp_path,
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/?token=tok" in first
        deadline = time.monotonic() + 45
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token=tok", timeout=40) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "segkit ui did not answer"
                time.sleep(0.5)
        assert "template_form" in page
        with pytest.raises(urllib.error.HTTPError):  # no token, no form
            opener = urllib.request.build_opener(_NoRedirect)
            opener.open(f"http://127.0.0.1:{port}/", timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
