"""ensure_run: a finished run is reused; training happens only when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import require_module

from segkit.runs import load_run
from segkit.runs.writer import write_config
from segkit.training import TrainConfig, ensure_run

require_module("tensorflow", "the cpu extra: pip install -e '.[cpu]'")


def _finished_run(run_dir: Path) -> Path:
    write_config(run_dir, TrainConfig(epochs=1))
    (run_dir / "model.keras").write_bytes(b"x")
    (run_dir / "model.json").write_text("{}")
    return run_dir


@pytest.fixture
def trained(monkeypatch):
    """Replace train() by a stub that records its calls and writes a finished run."""
    calls: list[dict] = []

    def fake_train(dataset_dir, config=None, *, runs_dir="runs", run_id=None, callbacks=(), **kw):
        calls.append({"dataset_dir": dataset_dir, "run_id": run_id, "callbacks": callbacks})
        return load_run(_finished_run(Path(runs_dir) / (run_id or "new")))

    monkeypatch.setattr("segkit.training.loop.train", fake_train)
    return calls


def test_the_newest_finished_run_is_reused(tmp_path, trained):
    _finished_run(tmp_path / "20260101-a")
    _finished_run(tmp_path / "20260102-b")

    def prepare():
        raise AssertionError("no data set is needed when a finished run exists")

    assert ensure_run(prepare, runs_dir=tmp_path).run_id == "20260102-b"
    assert trained == []


def test_trains_when_there_is_no_finished_run(tmp_path, trained):
    run = ensure_run(lambda: tmp_path / "prepared", runs_dir=tmp_path / "runs")
    assert run.status == "finished"
    assert trained[0]["dataset_dir"] == tmp_path / "prepared" and trained[0]["run_id"] is None


def test_a_named_run_goes_to_train_and_overwrite_starts_it_again(tmp_path, trained):
    old = _finished_run(tmp_path / "demo")
    (old / "stale.txt").write_text("from the first run")
    ensure_run("data", runs_dir=tmp_path, run_id="demo")
    assert trained[-1]["run_id"] == "demo" and (old / "stale.txt").exists()
    ensure_run("data", runs_dir=tmp_path, run_id="demo", overwrite=True)
    assert not (old / "stale.txt").exists() and len(trained) == 2
    with pytest.raises(ValueError, match="needs the run_id"):
        ensure_run("data", runs_dir=tmp_path, overwrite=True)
