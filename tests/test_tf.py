"""Importing segkit quiets TensorFlow's C++ start-up lines, unless the user set a level, and
leaves oneDNN's fast CPU kernels on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import REPO_ROOT, require_module

require_module("tensorflow", "the cpu or gpu extra: pip install -e '.[cpu]'")

# The training entry point loads TensorFlow; one small op makes it set up its CPU device too.
SCRIPT = """
import os
from segkit.training import train  # noqa: F401
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port

tf.constant(1.0) + 1.0
print(os.environ["TF_CPP_MIN_LOG_LEVEL"], _pywrap_util_port.IsMklEnabled())
"""
# TensorFlow itself, without segkit: whether it turns oneDNN on depends on the CPU (on x86 it
# does where the CPU has AVX-512 or newer; an AVX2-only CPU runs without it)
PLAIN = """
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port

print(_pywrap_util_port.IsMklEnabled())
"""
TF_LOG_LINES = ("oneDNN", "absl", "cpu_feature_guard", "port.cc", "I0000", "W0000")


def _run(script: str = SCRIPT, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")
    }
    clean["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO_ROOT,
    )


@pytest.mark.slow
def test_training_import_writes_no_tensorflow_log_lines():
    proc = _run(CUDA_VISIBLE_DEVICES="")
    level, onednn = proc.stdout.split()
    assert level == "2"
    # oneDNN's kernels stay as TensorFlow sets them on this CPU; only their notice is held back
    assert onednn == _run(PLAIN, CUDA_VISIBLE_DEVICES="").stdout.split()[-1]
    noise = [line for line in proc.stderr.splitlines() if any(s in line for s in TF_LOG_LINES)]
    assert not noise, "TensorFlow log lines on stderr:\n" + "\n".join(noise)


@pytest.mark.slow
def test_a_level_the_user_set_is_kept():
    proc = _run(CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="0")
    assert proc.stdout.split()[0] == "0"
    if _run(PLAIN, CUDA_VISIBLE_DEVICES="").stdout.split()[-1] == "True":
        assert "oneDNN custom operations are on" in proc.stderr  # level 0: nothing filtered
    off = _run(CUDA_VISIBLE_DEVICES="", TF_ENABLE_ONEDNN_OPTS="0")
    assert off.stdout.split() == ["2", "False"]


def test_filtered_stderr_drops_only_the_named_lines(capfd):
    from segkit._tf import filtered_stderr

    with filtered_stderr(("notice A",)):
        os.write(2, b"I0000 notice A here\nE0000 a real error\n")
        print("from Python", file=sys.stderr)
    os.write(2, b"after notice A\n")  # outside the block nothing is held back
    err = capfd.readouterr().err
    assert sorted(err.splitlines()) == ["E0000 a real error", "after notice A", "from Python"]
