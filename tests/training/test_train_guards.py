"""Training refuses a data set that differs from its manifest, and a run folder in use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import require_module

require_module("tensorflow", "the cpu extra: pip install -e '.[cpu]'")

from segkit.cli import main  # noqa: E402

TINY = ["--epochs", "1", "--batch-size", "4", "--depth", "2", "--base-filters", "4"]


@pytest.fixture
def dataset(prepared_small: Path, tmp_path: Path) -> Path:
    """A private copy of the small prepared data set (the tests change it)."""
    return Path(shutil.copytree(prepared_small, tmp_path / "data"))


def _first_image(dataset: Path) -> Path:
    manifest = json.loads((dataset / "manifest.json").read_text())
    return dataset / manifest["pairs"][0]["image"]


def test_changed_file_is_refused_before_training(dataset, tmp_path, capsys) -> None:
    image = _first_image(dataset)
    image.write_bytes(image.read_bytes()[:-10] + b"0123456789")
    runs = tmp_path / "runs"
    code = main(["train", str(dataset), *TINY, "--run-id", "r", "--runs-dir", str(runs)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and image.name in err[0] and "changed" in err[0]
    assert not (runs / "r").exists()  # nothing written


def test_missing_file_is_named_and_no_verify_skips_the_check(dataset, tmp_path, capsys) -> None:
    image = _first_image(dataset)
    data = image.read_bytes()
    image.unlink()
    runs = tmp_path / "runs"
    assert main(["train", str(dataset), *TINY, "--run-id", "r", "--runs-dir", str(runs)]) == 1
    assert "1 missing" in capsys.readouterr().err
    image.write_bytes(data)
    # An extra file only: --no-verify trains anyway.
    (dataset / "train" / "note.txt").write_text("hello")
    args = ["train", str(dataset), *TINY, "--run-id", "r", "--runs-dir", str(runs)]
    assert main(args) == 1
    assert main([*args, "--no-verify"]) == 0


@pytest.mark.slow
def test_two_trainings_of_one_run_id(dataset, tmp_path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def start(seed: str, epochs: str) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-m", "segkit", "train", str(dataset), *TINY, "--epochs", epochs,
               "--seed", seed, "--run-id", "same", "--runs-dir", str(runs)]  # fmt: skip
        return subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    first = start("1", "6")
    lock = runs / "same" / "lock"
    deadline = time.monotonic() + 120
    config = runs / "same" / "config.json"  # written just after the lock is taken
    while not (lock.is_file() and lock.read_text().strip() == str(first.pid) and config.is_file()):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first training never took the run lock"
        time.sleep(0.2)
    config_before = config.read_bytes()
    second = start("2", "2")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 1
    assert f"run same is in use by PID {first.pid}" in err and "Traceback" not in err
    assert (runs / "same" / "config.json").read_bytes() == config_before
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert json.loads((runs / "same" / "config.json").read_text())["seed"] == 1
    leftovers = [p.name for p in (runs / "same").rglob("*.part*")]
    assert leftovers == []


def test_points_only_data_set_is_refused_up_front(tmp_path, capsys) -> None:
    from segkit.dataset import prepare_dataset
    from segkit.imaging import write_image
    from segkit.synthetic import make_synthetic_sample
    from segkit.template import DatasetTemplate

    src = tmp_path / "src"
    for i in range(3):
        write_image(src / "images" / f"f{i}.png", make_synthetic_sample(64, 64, seed=i).image)
        (src / "points").mkdir(parents=True, exist_ok=True)
        (src / "points" / f"f{i}.json").write_text('[{"x": 10, "y": 12, "label_id": 1}]')
    prepare_dataset(src, tmp_path / "dst", DatasetTemplate(height=64, width=64), progress=False)
    runs = tmp_path / "runs"
    assert main(["train", str(tmp_path / "dst"), *TINY, "--runs-dir", str(runs)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "points and no mask" in err[0]
    assert not runs.exists()
