from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from support import require_module

keras = require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.dataset import load_manifest  # noqa: E402
from segkit.models import load_model  # noqa: E402
from segkit.runs import load_run  # noqa: E402
from segkit.training import TrainConfig, train  # noqa: E402
from segkit.training.callbacks import read_state  # noqa: E402


def _steps(prepared) -> int:
    """Training steps per epoch with batch size 4."""
    return math.ceil(len(load_manifest(prepared).split("train")) / 4)


TINY = {"depth": 2, "base_filters": 4, "batch_size": 4, "sample_figures": 2}


class Recorder(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[int] = []
        self.iterations_at_start: int | None = None

    def on_train_begin(self, logs=None):
        self.iterations_at_start = int(self.model.optimizer.iterations.numpy())
        self.float16_layers = sum(lay.compute_dtype == "float16" for lay in self.model.layers)
        self.bfloat16_layers = sum(lay.compute_dtype == "bfloat16" for lay in self.model.layers)
        self.output_dtype = self.model.get_layer("probabilities").compute_dtype

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_train_writes_a_complete_run(prepared_small, tmp_path):
    config = TrainConfig(epochs=2, patience=0, **TINY)
    run = train(prepared_small, config, runs_dir=tmp_path, run_id="r1")
    root = tmp_path / "r1"
    for name in (
        "config.json", "template.json", "dataset.json", "environment.json", "history.csv",
        "metrics.json", "model.keras", "model.json", "figures/predictions.png",
        "figures/history.png",
    ):  # fmt: skip
        assert (root / name).is_file(), name
    assert (root / "checkpoints" / "best.weights.h5").is_file()
    assert any((root / "tensorboard").rglob("*tfevents*"))
    assert run.status == "finished" and run.history["epoch"] == [1, 2]
    assert run.config == config
    assert set(run.metrics["test"]) >= {"loss", "dice", "iou"}
    env = json.loads((root / "environment.json").read_text())
    assert env["tensorflow"] and env["strategy"] == "default" and env["precision"] == "float32"
    assert env["backend"] == "tensorflow" and env["tensorboard"] is True and env["notes"] == []
    model, info = load_model(root)
    assert info.scale == (0.5, 0.5) and info.num_classes == 2
    assert info.fingerprint == load_manifest(prepared_small).fingerprint == run.fingerprint
    assert info.template["height"] == 32
    out = model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0)
    assert out.shape == (1, 32, 32, 1)
    # the saved model holds the best epoch's weights
    best = keras.models.clone_model(model)
    best.load_weights(root / "checkpoints" / "best.weights.h5")
    for a, b in zip(model.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(a, b)
    # a finished run is not trained again
    again = train(prepared_small, config, runs_dir=tmp_path, run_id="r1")
    assert again.history["epoch"] == [1, 2]


def test_resume_rejects_another_config(prepared_small, tmp_path):
    train(prepared_small, TrainConfig(epochs=1, **TINY), runs_dir=tmp_path, run_id="r")
    with pytest.raises(ValueError, match="learning_rate"):
        config = TrainConfig(epochs=2, learning_rate=0.1, **TINY)
        train(prepared_small, config, runs_dir=tmp_path, run_id="r")


def test_early_stopping(prepared_small, tmp_path):
    config = TrainConfig(epochs=30, patience=1, min_delta=10.0, **TINY)
    run = train(prepared_small, config, runs_dir=tmp_path, run_id="es")
    assert run.metrics["stopped_early"] is True
    assert run.history["epoch"] == [1, 2]  # epoch 2 is not 10 better than epoch 1
    assert run.metrics["best_epoch"] == 1


_TRAIN_SCRIPT = """
import sys
from segkit.training import TrainConfig, train
config = TrainConfig.from_json(sys.argv[3])
train(sys.argv[1], config, runs_dir=sys.argv[2], run_id="killed")
"""


@pytest.mark.slow
def test_resume_after_sigkill(prepared_small, tmp_path):
    config = TrainConfig(epochs=200, patience=0, **{**TINY, "sample_figures": 0})
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen(
        [sys.executable, "-c", _TRAIN_SCRIPT, str(prepared_small), str(tmp_path), config.to_json()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    run_dir = tmp_path / "killed"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            state = read_state(run_dir) if (run_dir / "checkpoints").is_dir() else None
            if state and state["epoch"] >= 2:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        else:
            pytest.fail("the training subprocess did not finish 2 epochs in 60 s")
        time.sleep(0.15)  # land somewhere inside a later epoch
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = read_state(run_dir)["epoch"]
    assert 2 <= done < 200
    assert not (run_dir / "model.keras").exists()
    assert load_run(run_dir).status == "interrupted"
    recorder = Recorder()
    run = train(
        prepared_small, config.replace(epochs=done + 2), runs_dir=tmp_path, run_id="killed",
        callbacks=[recorder],
    )  # fmt: skip
    assert recorder.epochs == [done, done + 1]  # continues at the right epoch
    assert recorder.iterations_at_start == done * _steps(prepared_small)  # optimizer state
    assert run.history["epoch"] == list(range(1, done + 3))  # no epoch twice
    assert run.status == "finished"
    rows = (run_dir / "history.csv").read_text().strip().splitlines()
    assert len(rows) == done + 3


def test_mixed_precision_path_and_its_resume(prepared_small, tmp_path):
    config = TrainConfig(epochs=1, mixed_precision="on", **TINY)
    run = train(prepared_small, config, runs_dir=tmp_path, run_id="mp")
    assert run.environment["precision"] == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards
    recorder = Recorder()
    run = train(
        prepared_small, config.replace(epochs=2), runs_dir=tmp_path, run_id="mp",
        callbacks=[recorder],
    )  # fmt: skip
    assert recorder.iterations_at_start == _steps(prepared_small)  # loss-scaled optimizer state
    assert recorder.epochs == [1]
    assert recorder.float16_layers > 0
    assert recorder.output_dtype == "float32"
    model, _ = load_model(run.path)
    assert all(layer.compute_dtype == "float32" for layer in model.layers)
    assert np.isfinite(run.metrics["test"]["loss"])


def test_bfloat16_mixed_precision(prepared_small, tmp_path):
    recorder = Recorder()
    config = TrainConfig(epochs=1, mixed_precision="bf16", **TINY)
    run = train(prepared_small, config, runs_dir=tmp_path, run_id="bf", callbacks=[recorder])
    assert run.environment["precision"] == "mixed_bfloat16"
    assert recorder.bfloat16_layers > 0 and recorder.output_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards
    model, _ = load_model(run.path)
    assert all(layer.compute_dtype == "float32" for layer in model.layers)
    assert np.isfinite(run.metrics["test"]["loss"])


def test_time_limit_stops_before_the_budget_runs_out():
    import types

    from segkit.training.callbacks import TimeLimit

    limit = TimeLimit(10.0, since=time.perf_counter() - 9.0)
    limit.set_model(types.SimpleNamespace(stop_training=False))
    limit.on_epoch_begin(0)
    limit._epoch_start -= 2.0  # epochs take 2 s: 9 s used, another one would end at 11 s
    limit.on_epoch_end(0)
    assert limit.model.stop_training is True
    relaxed = TimeLimit(100.0)
    relaxed.set_model(types.SimpleNamespace(stop_training=False))
    relaxed.on_train_begin()
    relaxed.on_epoch_begin(0)
    relaxed.on_epoch_end(0)
    assert relaxed.model.stop_training is False


def test_time_limit_anneals_the_learning_rate_over_the_budget():
    import types

    import keras

    from segkit.training.callbacks import TimeLimit

    rate = keras.Variable(1.0)
    fake = types.SimpleNamespace(
        stop_training=False, optimizer=types.SimpleNamespace(learning_rate=rate)
    )
    rates = []
    for spent in (0.0, 0.5, 1.0, 3.0):
        limit = TimeLimit(10.0, since=time.perf_counter() - 10.0 * spent, anneal_from=2e-3)
        limit.set_model(fake)
        limit.on_epoch_begin(0)
        rates.append(float(rate.numpy()))
    assert rates[0] == pytest.approx(2e-3, rel=1e-3)  # the full rate at the start
    assert rates[1] == pytest.approx(2e-3 * (0.01 + 0.99 * 0.5), rel=1e-3)
    assert rates[2] == pytest.approx(2e-5, rel=1e-3) and rates[3] == rates[2]  # 1 % at the end
    plain = TimeLimit(10.0)  # without anneal_from the rate is left alone
    plain.set_model(fake)
    plain.on_train_begin()
    plain.on_epoch_begin(0)
    assert float(rate.numpy()) == pytest.approx(2e-5, rel=1e-3)


def test_saved_model_info_is_the_data_sets_at_the_patch_size(prepared_small):
    from segkit.training.loop import _model_info

    manifest = load_manifest(prepared_small)
    info = _model_info(manifest, TrainConfig(patch_size=16, depth=2, threshold=0.4))
    assert info.input_shape == (16, 16, 3) and info.threshold == 0.4
    assert info.scale == (0.5, 0.5) and info.fingerprint == manifest.fingerprint
    assert _model_info(manifest, TrainConfig()).input_shape == (32, 32, 3)
