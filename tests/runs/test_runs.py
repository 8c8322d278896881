from __future__ import annotations

import json
from pathlib import Path

import pytest

from segkit.cli import main
from segkit.runs import compare_runs, format_comparison, list_runs, load_run
from segkit.training.config import TrainConfig


def _fake_run(root: Path, name: str, config: TrainConfig, *, epochs: int, finished: bool) -> Path:
    """A run folder as train() writes it (without a real model)."""
    run = root / name
    run.mkdir(parents=True)
    config.save(run / "config.json")
    (run / "dataset.json").write_text(json.dumps({"path": "/data", "fingerprint": "ab" * 32}))
    (run / "environment.json").write_text(json.dumps({"segkit_version": "0.1", "git": None}))
    rows = ["epoch,loss,val_dice"] + [
        f"{e},{1 / e:.3f},{0.5 + e / 100}" for e in range(1, epochs + 1)
    ]
    (run / "history.csv").write_text("\n".join(rows) + "\n")
    if finished:
        metrics = {"best_epoch": epochs, "val": {"dice": 0.61}, "test": {"dice": 0.58, "iou": 0.4}}
        (run / "metrics.json").write_text(json.dumps(metrics))
        (run / "model.keras").write_bytes(b"x")
        (run / "model.json").write_text("{}")
    return run


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    _fake_run(tmp_path, "20261127-a", TrainConfig(epochs=3), epochs=3, finished=True)
    _fake_run(
        tmp_path, "20261127-b", TrainConfig(epochs=5, learning_rate=0.01), epochs=2, finished=False
    )
    (tmp_path / "not-a-run").mkdir()
    return tmp_path


def test_load_and_list(runs_dir):
    runs = list_runs(runs_dir)
    assert [r.run_id for r in runs] == ["20261127-a", "20261127-b"]
    a, b = runs
    assert a.status == "finished" and b.status == "interrupted"
    assert a.history["epoch"] == [1, 2, 3] and a.history["loss"][1] == pytest.approx(0.5)
    assert a.fingerprint == "ab" * 32 and a.metrics["test"]["dice"] == 0.58
    assert a.model_path == runs_dir / "20261127-a" / "model.keras"
    assert load_run(a.model_path).run_id == "20261127-a"
    assert list_runs(runs_dir / "missing") == []
    with pytest.raises(FileNotFoundError, match="not a segkit run folder"):
        load_run(runs_dir / "not-a-run")


def test_compare_shows_only_what_differs(runs_dir):
    table = compare_runs(list_runs(runs_dir))
    assert table["run"] == ["20261127-a", "20261127-b"]
    assert table["learning_rate"] == [0.001, 0.01]
    assert table["epochs"] == [3, 5]
    assert "batch_size" not in table
    assert table["test_dice"] == [0.58, None]
    assert "batch_size" in compare_runs(list_runs(runs_dir), all_fields=True)
    text = format_comparison(table)
    assert "learning_rate" in text and "0.58" in text and "-" in text


def test_cli(runs_dir, capsys):
    assert main(["runs", "--runs-dir", str(runs_dir), "list"]) == 0
    out = capsys.readouterr().out
    assert "20261127-a" in out and "finished" in out and "0.5800" in out
    assert "interrupted" in out and "2/5" in out
    assert main(["runs", "show", "20261127-b", "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert "interrupted (2/5 epochs)" in out and "learning_rate" in out
    assert main(["runs", "--runs-dir", str(runs_dir), "compare", "20261127-a", "20261127-b"]) == 0
    assert "learning_rate" in capsys.readouterr().out
    assert main(["runs", "--runs-dir", str(runs_dir), "show", "nope"]) == 1
    assert "no run 'nope'" in capsys.readouterr().err


def test_runs_list_shows_readable_runs_and_names_unreadable_ones(tmp_path, capsys):
    from segkit.cli import main
    from segkit.runs import list_runs, scan_runs
    from segkit.runs.writer import write_config
    from segkit.training.config import TrainConfig

    write_config(tmp_path / "good", TrainConfig(epochs=3))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_bytes(b'{"epochs": "\xff\xfe"}')
    runs, unreadable = scan_runs(tmp_path)
    assert [r.run_id for r in runs] == ["good"]
    assert unreadable[0][0] == bad and "not UTF-8" in unreadable[0][1]
    with pytest.warns(UserWarning, match="bad"):
        assert [r.run_id for r in list_runs(tmp_path)] == ["good"]
    assert main(["runs", "list", "--runs-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "good" in out and "bad" in err and "not UTF-8" in err


def test_history_with_a_nan_epoch_names_the_file_and_line(tmp_path):
    from segkit.runs import read_history

    (tmp_path / "history.csv").write_text("epoch,loss\n1,0.5\nnan,0.4\n")
    with pytest.raises(ValueError, match=r"history.csv, line 3: 'epoch' is not a number"):
        read_history(tmp_path / "history.csv")
