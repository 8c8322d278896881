"""The speed benchmarks of ``make bench`` still run: each script, at a tiny size, in a fresh
process, prints or writes figures that are finite and positive (a benchmark that breaks
silently cannot check its README row)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / script), *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.shared_data
def test_bench_prepare_runs(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepare.json"
    _run("bench_prepare.py", "--pairs", "8", "--workers", "2", "--data", str(shared_data),
         "--json", str(out))  # fmt: skip
    figures = json.loads(out.read_text())
    assert figures["pairs"] == 8
    for key in ("prepare_pairs_per_s", "plain_loop_pairs_per_s"):
        assert math.isfinite(figures[key]) and figures[key] > 0, (key, figures)


def test_bench_train_runs() -> None:
    out = _run("bench_train.py", "--pairs", "8", "--size", "32", "--epochs", "3",
               "--batch-size", "4", "--depth", "2", "--base-filters", "4")  # fmt: skip
    start = out.index("{")
    figures, _ = json.JSONDecoder().raw_decode(out[start:])
    for part in ("a", "b"):
        ratio = figures[part]["ratio"]
        assert math.isfinite(ratio) and ratio > 0, figures


def test_bench_predict_runs() -> None:
    out = _run("bench_predict.py", "--size", "256", "--tile", "64", "--depth", "2",
               "--filters", "4", "--repeat", "1")  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("ratio tiled / direct, wall"))
    ratio = float(line.split(":")[1].split()[0])
    assert math.isfinite(ratio) and ratio > 0, line
