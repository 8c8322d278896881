"""The writers and the reader agree: what training writes, load_run reads back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from segkit.runs import find_run, load_run, write_history
from segkit.runs.reader import find_run_dirs, read_mlflow_record, read_state
from segkit.runs.writer import write_metrics, write_mlflow_record, write_run_files, write_state
from segkit.template import DatasetTemplate
from segkit.training.config import TrainConfig

RUNS_PACKAGE = Path(__file__).resolve().parents[2] / "segkit" / "runs"


def _manifest(root: Path) -> SimpleNamespace:
    return SimpleNamespace(
        root=root,
        fingerprint="cd" * 32,
        source="/source",
        counts={"train": 3, "val": 1, "test": 1},
        segkit_version="0.1",
        template=DatasetTemplate(height=32, width=32),
    )


def test_round_trip_through_a_run_life(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    config = TrainConfig(epochs=2, learning_rate=0.01)
    write_run_files(run_dir, config, _manifest(tmp_path / "data"), {"tensorflow": "2.x"})
    run = load_run(run_dir)
    assert run.status == "new" and run.epochs_done == 0 and run.history == {}
    assert run.config == config and TrainConfig.from_dict(run.config) == config
    assert run.config.learning_rate == 0.01 and run.config["epochs"] == 2
    assert run.fingerprint == "cd" * 32 and run.dataset["counts"]["train"] == 3
    assert run.environment == {"tensorflow": "2.x"}
    assert DatasetTemplate.from_dict(json.loads((run_dir / "template.json").read_text())) == (
        DatasetTemplate(height=32, width=32)
    )
    assert read_state(run_dir) is None

    history = [{"epoch": 1, "loss": 0.9}]
    write_state(run_dir, {"epoch": 1, "last": "last-0001.keras", "history": history})
    write_history(run_dir, history)
    run = load_run(run_dir)
    assert run.status == "interrupted" and run.summary()["progress"] == "1/2"
    assert read_state(run_dir)["last"] == "last-0001.keras"

    write_metrics(run_dir, {"best_epoch": 1, "test": {"dice": 0.7}})
    (run_dir / "model.keras").write_bytes(b"x")
    (run_dir / "model.json").write_text("{}")
    run = load_run(run_dir)
    assert run.status == "finished" and run.summary()["test_dice"] == 0.7

    assert read_mlflow_record(run_dir) == {}
    write_mlflow_record(run_dir, {"uri": "file:x", "run_id": "abc"})
    assert read_mlflow_record(run_dir)["run_id"] == "abc"
    assert not list(run_dir.rglob("*.part"))  # every write was atomic


def test_run_config_is_read_only_plain_data(tmp_path):
    run_dir = tmp_path / "r"
    write_run_files(run_dir, TrainConfig(), _manifest(tmp_path), {})
    config = load_run(run_dir).config
    with pytest.raises(AttributeError, match="no field 'nope'"):
        _ = config.nope
    with pytest.raises(AttributeError, match="read-only"):
        config.epochs = 3
    assert config != TrainConfig(epochs=3) and config == TrainConfig().to_dict()
    copy = config.to_dict()
    copy["epochs"] = 99
    assert config["epochs"] == TrainConfig().epochs


def test_find_run(tmp_path):
    assert find_run(tmp_path / "missing") is None
    for name, finished in (("20260101-a", True), ("20260102-b", True), ("20260103-c", False)):
        run_dir = tmp_path / name
        write_run_files(run_dir, TrainConfig(), _manifest(tmp_path), {})
        write_history(run_dir, [{"epoch": 1, "loss": 0.5}])
        if finished:
            (run_dir / "model.keras").write_bytes(b"x")
            (run_dir / "model.json").write_text("{}")
    assert find_run(tmp_path).run_id == "20260102-b"  # the newest finished one
    assert find_run(tmp_path, status="interrupted").run_id == "20260103-c"
    assert find_run(tmp_path, "20260101-a").run_id == "20260101-a"
    assert find_run(tmp_path, "20260103-c") is None  # not finished
    assert find_run(tmp_path, "nope") is None
    nested = tmp_path / "out" / "runs" / "x"
    write_run_files(nested, TrainConfig(), _manifest(tmp_path), {})
    assert nested not in find_run_dirs(tmp_path)  # a config alone is not a run yet
    write_metrics(nested, {})
    assert find_run_dirs(tmp_path) == tuple(
        sorted([tmp_path / "20260101-a", tmp_path / "20260102-b", tmp_path / "20260103-c", nested])
    )


def test_runs_sits_below_training():
    """segkit.runs never imports segkit.training (nor TensorFlow), not even lazily."""
    for module in RUNS_PACKAGE.glob("*.py"):
        code = module.read_text()
        assert "import segkit.training" not in code, module
        assert "from segkit.training" not in code, module
    probe = (
        "import sys, segkit.runs, segkit.runs.writer, segkit.runs.layout\n"
        "print(sorted(m for m in sys.modules if m.startswith(('segkit.training', 'tensorflow'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
