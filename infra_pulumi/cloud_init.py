"""The cloud-init user data that turns a fresh GPU droplet into a segkit machine.

It is a shell script: install Python, create a virtual environment, install the GPU build of
TensorFlow and the caller's exact segkit (a pinned version or a git commit), register the
Jupyter kernel papermill uses, check that TensorFlow imports, then write the ready marker.
On any failure it writes ``<marker>.failed`` with the end of the log instead, so the runner
stops waiting at once and shows why.
"""

from __future__ import annotations

import re
import shlex

__all__ = ["VENV", "READY_MARKER", "SETUP_LOG", "build_user_data"]

VENV = "/opt/segkit/venv"
READY_MARKER = "/var/lib/segkit/ready"
SETUP_LOG = "/var/log/segkit-setup.log"

_TEMPLATE = """#!/bin/bash
# segkit GPU machine set-up, run once by cloud-init at first boot.
set -euo pipefail
MARKER={marker}
LOG={log}
mkdir -p "$(dirname "$MARKER")"
rm -f "$MARKER" "$MARKER.failed"
exec >>"$LOG" 2>&1
trap 'tail -n 60 "$LOG" > "$MARKER.failed.tmp"; mv "$MARKER.failed.tmp" "$MARKER.failed"' ERR
export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
for i in 1 2 3 4 5; do apt-get update -q && break || sleep 15; done
apt-get install -y -q python3-venv python3-pip git
python3 -m venv {venv}
{venv}/bin/python -m pip install -q --upgrade pip
{venv}/bin/python -m pip install {tensorflow} {segkit}
{venv}/bin/python -m ipykernel install --sys-prefix --name python3
{venv}/bin/python -c {check} > "$(dirname "$MARKER")/versions.json"
echo ok > "$MARKER.tmp"
mv "$MARKER.tmp" "$MARKER"
"""

# scheme://user:password@ -- a credential that must not reach the user-data.
_PASSWORD_IN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s@:]*:[^/\s@]*@|https?://[^/\s@]+@")

_CHECK = (
    "import json, segkit, tensorflow as tf; "
    "print(json.dumps({'segkit': segkit.__version__, 'tensorflow': tf.__version__, "
    "'gpus': [d.name for d in tf.config.list_physical_devices('GPU')]}))"
)


def build_user_data(
    segkit_spec: str,
    *,
    tensorflow_spec: str = "tensorflow[and-cuda]",
    ready_marker: str = READY_MARKER,
    venv: str = VENV,
    log_path: str = SETUP_LOG,
) -> str:
    """The user-data script for a droplet.

    Parameters
    ----------
    segkit_spec : str
        pip requirement for segkit, e.g. ``"segkit[gpu,notebooks]==0.2.0"`` or
        ``"segkit[gpu,notebooks] @ git+https://github.com/ORG/segkit@<commit>"``.
    tensorflow_spec : str
        pip requirement for the GPU build of TensorFlow.
    ready_marker : str
        File written when the machine is ready (``<marker>.failed`` on failure).
    venv : str
        Where the virtual environment goes; the runner calls ``<venv>/bin/python``.
    log_path : str
        The set-up log on the machine.
    """
    for name, value in (("segkit_spec", segkit_spec), ("tensorflow_spec", tensorflow_spec)):
        if _PASSWORD_IN_URL.search(value or ""):  # the value is not shown: it holds a secret
            raise ValueError(
                f"user data: {name} has credentials in a URL (user:***@host); user-data is "
                "readable on the droplet and in the cloud account, use a URL that needs none"
            )
        if not value or not value.strip() or "\n" in value:
            raise ValueError(f"user data: {name} {value!r} is not a pip requirement")
    for name, value in (("ready_marker", ready_marker), ("venv", venv), ("log_path", log_path)):
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"user data: {name} {value!r} must be an absolute path without spaces")
    return _TEMPLATE.format(
        marker=shlex.quote(ready_marker),
        log=shlex.quote(log_path),
        venv=venv,
        tensorflow=shlex.quote(tensorflow_spec),
        segkit=shlex.quote(segkit_spec),
        check=shlex.quote(_CHECK),
    )
