"""An interrupted `segkit prepare` leaves no data set; the next run succeeds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segkit.dataset import load_manifest
from segkit.synthetic import make_synthetic_dataset


@pytest.mark.slow
def test_sigkill_mid_run_leaves_no_dst(tmp_path: Path, digest_tree) -> None:
    src = make_synthetic_dataset(tmp_path / "src", 24, height=48, width=48)
    before = digest_tree(src)
    # Enlarging to 640x640 makes every pair slow enough to stop the run half way.
    (tmp_path / "t.json").write_text(json.dumps({"height": 640, "width": 640}))
    dst = tmp_path / "dst"
    cmd = [sys.executable, "-m", "segkit", "prepare", str(src), str(dst),
           "-t", str(tmp_path / "t.json"), "--workers", "2", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    written = 0
    while time.monotonic() < deadline and proc.poll() is None:
        temps = list(tmp_path.glob(".dst.segkit-tmp-*"))
        if temps:
            written = sum(1 for _ in temps[0].rglob("*.png"))
            if written >= 6:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "prepare finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert written >= 6
    assert not dst.exists()
    assert digest_tree(src) == before
    # The next run removes the dead run's temporary folder and completes.
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    assert len(load_manifest(dst).pairs) == 24
    time.sleep(0.2)  # workers orphaned by the kill may still be exiting
    assert not list(tmp_path.glob(".dst.segkit-*"))
    assert digest_tree(src) == before
