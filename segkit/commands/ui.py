"""``segkit ui``: serve the dataset template form as a web page on 127.0.0.1 (via Voilà).

By default it serves a one-cell notebook holding :class:`segkit.widgets.TemplateForm` that
writes the template to ``--output`` (an absolute path, so the file lands where the command
was started). ``--notebook`` serves another notebook instead, e.g.
``notebooks/01_dataset_template.ipynb``. The page is protected by a random token that is part
of the printed URL. The token reaches Voilà through its environment (``JUPYTER_TOKEN``), never
its command line, so other users cannot read it with ``ps``. The server runs in a process
group of its own, and that whole group (Voilà and its kernels) is ended when ``segkit ui``
exits, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

__all__ = [
    "HEADLESS_CHROMIUM_ARGS",
    "register",
    "free_port",
    "form_notebook",
    "voila_command",
    "voila_env",
    "serving",
    "stop_server",
]

TOKEN_ENV = "SEGKIT_UI_TOKEN"

#: Chromium flags for driving a served page headless (browser tests, README pictures).
HEADLESS_CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def form_notebook(output: str | Path) -> str:
    """The JSON of a notebook that shows the template form writing to ``output``.

    A relative ``output`` is relative to the notebook's folder (the kernel's working directory).
    """
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    source = f"from segkit.widgets import TemplateForm\nTemplateForm({str(output)!r})"
    nb = new_notebook(cells=[new_code_cell(source, id="form")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return str(nbformat.writes(nb))


def voila_command(notebook: str | Path, *, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves ``notebook`` with Voilà on ``host:port``.

    The access token is not part of it: pass :func:`voila_env` as the environment.
    """
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={host}",
        "--Voila.auto_token=True",  # the token comes from JUPYTER_TOKEN
        "--strip_sources=True",
        "--show_tracebacks=True",
    ]


def voila_env(token: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus ``extra``, with ``token`` as Voilà's access token."""
    env = {**os.environ, **(extra or {}), "JUPYTER_TOKEN": token}
    env.pop("JUPYTER_TOKEN_FILE", None)
    return env


def _start(notebook: Path, *, port: int, token: str, **popen: Any) -> subprocess.Popen[bytes]:
    env = voila_env(token, popen.pop("env", None))
    return subprocess.Popen(
        voila_command(notebook, port=port), env=env, start_new_session=True, **popen
    )


def stop_server(proc: subprocess.Popen[Any], *, timeout: float = 10.0) -> None:
    """End ``proc`` and every process in its group (Voilà's kernels too)."""
    if proc.poll() is None or _group_alive(proc.pid):
        _signal_group(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@contextmanager
def serving(
    notebook: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    log: str | Path | None = None,
) -> Iterator[str]:
    """Serve ``notebook`` with Voilà on 127.0.0.1 for the duration of a ``with`` block.

    Yields the URL (with its token) once the server answers; stops the server on exit.
    The kernel runs in the notebook's directory.

    Parameters
    ----------
    notebook : path
    env : mapping, optional
        Extra environment variables for the server and its kernel.
    timeout : float
        Seconds to wait for the server to answer.
    log : path, optional
        File that receives the server's output (default: discarded).
    """
    port, token = free_port(), secrets.token_urlsafe(16)
    url = f"http://127.0.0.1:{port}/?token={token}"
    nb = Path(notebook).resolve()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = _start(nb, port=port, token=token, cwd=nb.parent, env=env, stdout=out,
                  stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Voila exited with code {proc.returncode} serving {nb}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"Voila did not answer on port {port} within {timeout:g} s"
                    ) from None
                time.sleep(0.3)
        yield url
    finally:
        stop_server(proc)
        if log:
            out.close()  # type: ignore[union-attr]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ui",
        help="serve the dataset template form as a web page on 127.0.0.1",
        description=(
            "Serve the 'Dataset Parameters Configuration' form with Voila on 127.0.0.1 and "
            "print its URL. 'Generate settings' writes the template to --output."
        ),
    )
    p.add_argument("--output", default="template.json", help="template JSON to write")
    p.add_argument("--notebook", help="serve this notebook instead of the bare form")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve the form until Ctrl-C or SIGTERM; the server and its kernels end with it.

    The access token is ``$SEGKIT_UI_TOKEN`` when set, otherwise a random one.
    """
    if shutil.which("voila") is None and not _has_module("voila"):
        raise FileNotFoundError(
            "Voila is not installed; install the notebook extra: pip install 'segkit[notebooks]'"
        )
    port = args.port or free_port()
    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="segkit-ui-") as tmp:
        if args.notebook:
            notebook = Path(args.notebook)
            if not notebook.is_file():
                raise FileNotFoundError(f"{notebook}: no such notebook")
        else:
            notebook = Path(tmp) / "template_form.ipynb"
            output = Path(args.output).expanduser().resolve()
            notebook.write_text(form_notebook(output), encoding="utf-8")
        print(f"segkit ui: serving the template form at http://127.0.0.1:{port}/?token={token}")
        print("segkit ui: press Ctrl-C to stop", flush=True)
        proc = _start(notebook.resolve(), port=port, token=token)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            print("segkit ui: stopped", file=sys.stderr)
            return 0
        finally:
            stop_server(proc)
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
