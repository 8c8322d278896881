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

import numpy as np
import pytest
from support import REPO_ROOT

pytestmark = pytest.mark.slow


def _run(script: str, *args: str, **env_vars: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), CUDA_VISIBLE_DEVICES="", **env_vars)
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


def test_bench_onednn_runs() -> None:
    out = _run("bench_onednn.py", "--steps", "2", "--batch", "1", "--patch", "32")
    figures, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])
    assert figures["onednn_active"][0] is False  # the setting reaches each process
    for key in ("onednn_off_step_ms", "onednn_on_step_ms", "speedup_onednn"):
        assert math.isfinite(figures[key]) and figures[key] > 0, (key, figures)


def test_bench_predict_runs() -> None:
    out = _run("bench_predict.py", "--size", "256", "--tile", "64", "--depth", "2",
               "--filters", "4", "--repeat", "1")  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("ratio tiled / direct, wall"))
    ratio = float(line.split(":")[1].split()[0])
    assert math.isfinite(ratio) and ratio > 0, line


@pytest.mark.shared_data
def test_gpu_check_runs_on_jax(shared_data: Path, tmp_path: Path) -> None:
    """The GPU machine's check (``gpu_monuseg.py``, Keras on JAX), on the CPU at a tiny size:
    segkit.train's images/s against a bare fit, the input share and the MFU are figures."""
    _run("gpu_monuseg.py", "--source", str(shared_data / "monuseg2018-train"), "--limit", "4",
         "--epochs", "2", "--depth", "2", "--base-filters", "4", "--predict-size", "256",
         "--bare-epochs", "2", "--peak-tflops", "1", "--out", str(tmp_path),
         KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")  # fmt: skip
    figures = json.loads((tmp_path / "summary.json").read_text())
    assert figures["backend"] == "jax" and figures["train_images_per_epoch"] > 0
    for key in ("segkit_images_per_s", "bare_fit_images_per_s", "achieved_tflops", "mfu",
                "forward_gflops_per_image", "predict_ratio"):  # fmt: skip
        assert math.isfinite(figures[key]) and figures[key] > 0, (key, figures)
    assert 0.0 <= figures["input_share"] < 1.0, figures


def test_bench_export_runs() -> None:
    out = _run("bench_export.py", "--tile", "32", "--batch", "1", "--repeat", "1", "--image", "96")
    diff = float(out.split("largest difference of probabilities ")[1].split()[0])
    assert diff < 1e-3, out
    rates = [float(line.split("(")[1].split()[0]) for line in out.splitlines() if "tiles/s" in line]
    assert len(rates) == 2 and all(math.isfinite(r) and r > 0 for r in rates), out
    whole = out.split("whole 96x96 image through predict_proba")[1]
    assert float(whole.split("largest difference ")[1].split(":")[0]) < 1e-3, out
    seconds = [float(line.split()[1]) for line in whole.splitlines() if line.endswith(" s")]
    assert len(seconds) == 2 and all(s > 0 for s in seconds), out


@pytest.mark.shared_data
def test_gpu_organs_check_runs_on_jax(shared_data: Path, tmp_path: Path) -> None:
    """``gpu_check.sh pack`` / ``organs`` at a tiny size: the WebP copy that travels to the
    GPU machine unpacks to the source's pixels and masks, and quality_monuseg.py's organ
    protocol trains and scores on Keras's JAX backend from it."""
    from segkit.imaging import read_image

    source = shared_data / "monuseg2018-train"
    small = tmp_path / "monuseg"
    stems = ["TCGA-KB-A93J-01A-01-TS1", "TCGA-18-5592-01Z-00-DX1", "TCGA-RD-A8N9-01A-01-TS1"]
    for folder, suffix in (("Tissue_Images", ".tif"), ("Binary_masks", ".png")):
        (small / folder).mkdir(parents=True)
        for stem in stems:
            (small / folder / f"{stem}{suffix}").write_bytes(
                (source / folder / f"{stem}{suffix}").read_bytes()
            )
    _run("gpu_monuseg.py", "--source", str(small), "--pack-to", str(tmp_path / "packed"))
    assert sorted(p.name for p in (tmp_path / "packed" / "Tissue_Images").iterdir()) == [
        f"{stem}.webp" for stem in sorted(stems)
    ]
    _run("gpu_monuseg.py", "--source", str(tmp_path / "packed"), "--unpack-to",
         str(tmp_path / "unpacked"))  # fmt: skip
    for stem in stems:
        again = tmp_path / "unpacked" / "Tissue_Images" / f"{stem}.tif"
        assert np.array_equal(read_image(again), read_image(small / "Tissue_Images" / again.name))
        mask = f"Binary_masks/{stem}.png"
        assert (tmp_path / "unpacked" / mask).read_bytes() == (small / mask).read_bytes()
    out = tmp_path / "organs.json"
    _run("quality_monuseg.py", "--source", str(tmp_path / "unpacked"), "--work",
         str(tmp_path / "work"), "--folds", "liver", "--epochs", "1", "--minutes-per-fold",
         "1000", "--patience", "0", "--depth", "2", "--base-filters", "4", "--batch-size", "8",
         "--patches-per-image", "2", "--json", str(out),
         KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")  # fmt: skip
    figures = json.loads(out.read_text())
    assert figures["recipe"]["train_config"]["patches_per_image"] == 2
    assert figures["recipe"]["train_config"]["stain_normalisation"] == "reinhard"
    assert figures["folds"][0]["train_images"] == 2 and figures["folds"][0]["epochs"] == 1
    assert [row["image"] for row in figures["images"]] == ["TCGA-KB-A93J-01A-01-TS1"]
    assert 0.0 < figures["plain"]["dice_mean_per_image"] <= 1.0


def test_bench_input_runs() -> None:
    out = _run("bench_input.py", "--pairs", "4", "--size", "64", "--patch", "32",
               "--per-image", "2", "--batch", "4", "--rounds", "1")  # fmt: skip
    figures, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])
    rates = [k for k in figures if k.startswith("pydataset_")]
    assert {"pydataset_1_threads", "pydataset_2_threads"} <= set(rates), figures
    for key in [*rates, "tfdata"]:
        assert math.isfinite(figures[key]) and figures[key] > 0, (key, figures)
    assert "PyDataset with 1 thread / tf.data" in out
