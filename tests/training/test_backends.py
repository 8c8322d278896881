"""``segkit.train`` on Keras's JAX and PyTorch backends, in a fresh process with TensorFlow hidden.

A backend is chosen when Keras is first imported, so each backend trains in a subprocess
(``train_on_backend.py``); this process (TensorFlow) then checks the run folders it wrote.
The PyTorch cases carry the ``torch`` mark: ``make test`` leaves them out (PyTorch's wheel is
several GB and CI runs TensorFlow and JAX); ``make test-torch`` installs the extra and runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import REPO_ROOT, require_module

keras = require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")
require_module("jax", "the jax extra: pip install -e '.[jax]'")

from segkit.dataset import load_manifest  # noqa: E402
from segkit.runs import load_run  # noqa: E402
from segkit.training import backends  # noqa: E402
from segkit.training.backends import NoDistribution, jax_distribution  # noqa: E402

SCRIPT = Path(__file__).with_name("train_on_backend.py")


def _train_on(backend: str, prepared: Path, instances: Path | None, runs: Path) -> dict:
    out = runs / "result.json"
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        CUDA_VISIBLE_DEVICES="",
        JAX_PLATFORMS="cpu",
    )
    cmd = [sys.executable, str(SCRIPT), str(prepared), str(instances or "-"), str(runs), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


TINY = {"depth": 2, "base_filters": 4, "batch_size": 4, "sample_figures": 2, "patience": 0}


@pytest.fixture(scope="module", params=["jax", pytest.param("torch", marks=pytest.mark.torch)])
def backend_runs(
    request, prepared_small, prepared_instances, tmp_path_factory
) -> tuple[Path, dict]:
    from segkit.training import TrainConfig, train
    from segkit.training.callbacks import TimeLimit

    backend = request.param
    if backend == "torch":
        require_module("torch", "the torch extra: make test-torch (or pip install -e '.[torch]')")
    runs = tmp_path_factory.mktemp(f"{backend}_runs")
    # epoch 1 of 2 on TensorFlow here; the other backend's process trains epoch 2
    config = TrainConfig(epochs=2, **TINY)
    train(prepared_small, config, runs_dir=runs, run_id="from_tf", callbacks=[TimeLimit(0.0)])
    return runs, _train_on(backend, prepared_small, prepared_instances, runs)


def test_trains_without_tensorflow_and_writes_a_complete_run(backend_runs, prepared_small):
    runs, result = backend_runs
    backend = result["backend"]
    assert backend in ("jax", "torch") and result["tensorflow_imported"] is False
    root = runs / "complete"
    for name in (
        "config.json", "template.json", "dataset.json", "environment.json", "history.csv",
        "metrics.json", "model.keras", "model.json", "checkpoints/best.weights.h5",
        "figures/history.png", "figures/predictions.png",
    ):  # fmt: skip
        assert (root / name).is_file(), name
    run = load_run(root)
    assert run.status == "finished" and run.history["epoch"] == [1, 2]
    assert np.isfinite(run.history["val_loss"]).all()
    assert set(run.metrics["test"]) >= {"loss", "dice", "iou"}
    assert run.fingerprint == load_manifest(prepared_small).fingerprint
    env = run.environment
    assert env["backend"] == backend and env[backend] and env["keras"] == keras.__version__
    assert env["strategy"] == "default" and env["precision"] == "float32"
    assert env["devices"] == [{"name": "cpu:0", "type": "CPU"}]
    assert env["tensorboard"] is False and "TensorBoard" in env["notes"][0]
    assert not (root / "tensorboard").exists()


def test_the_model_loads_with_plain_keras_on_tensorflow(backend_runs):
    runs, _ = backend_runs
    assert keras.backend.backend() == "tensorflow"
    model = keras.models.load_model(runs / "complete" / "model.keras")
    out = model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0)
    assert out.shape == (1, 32, 32, 1) and np.isfinite(out).all()


def test_a_run_resumes_at_the_next_epoch(backend_runs, prepared_small):
    runs, result = backend_runs
    resumed = result["resumed"]
    assert resumed["first"] == [0]  # the TimeLimit stopped it after epoch 1
    assert resumed["second"] == [1]  # the second call continued at epoch 2
    steps = -(-len(load_manifest(prepared_small).split("train")) // 4)
    assert resumed["steps_at_resume"] == steps  # with the optimizer state of epoch 1
    run = load_run(runs / "resumed")
    assert run.history["epoch"] == [1, 2] and run.status == "finished"


def test_an_instance_target_data_set_trains(backend_runs):
    runs, _ = backend_runs
    run = load_run(runs / "instances")
    assert run.status == "finished" and run.history["epoch"] == [1]
    info = json.loads((run.path / "model.json").read_text())
    assert info["num_classes"] == 3  # background, object, boundary
    assert np.isfinite(run.metrics["val"]["loss"])


def test_a_run_started_on_tensorflow_resumes_on_another_backend(backend_runs, prepared_small):
    runs, result = backend_runs
    assert result["from_tf"]["epochs"] == [1]
    steps = -(-len(load_manifest(prepared_small).split("train")) // 4)
    assert result["from_tf"]["steps_at_resume"] == steps
    run = load_run(runs / "from_tf")
    assert run.history["epoch"] == [1, 2] and run.status == "finished"
    assert run.environment["backend"] == "tensorflow"  # the file of its start


def test_mixed_precision(backend_runs):
    runs, _ = backend_runs
    run = load_run(runs / "mixed")
    assert run.environment["precision"] == "mixed_float16"
    assert np.isfinite(run.metrics["test"]["loss"])
    model = keras.models.load_model(runs / "mixed" / "model.keras")
    assert all(layer.compute_dtype == "float32" for layer in model.layers)


def test_weight_averaging(backend_runs):
    _, result = backend_runs
    found = result["averaged"]
    assert found["to_average"] == 0.0 and found["to_raw"] > 1e-4, found
    assert found["val_loss"] < 1e-3, found


def test_one_device_means_no_distribution():
    info = jax_distribution(["cpu:0"])
    assert info.kind == "default" and info.replicas == 1
    assert isinstance(info.strategy, NoDistribution)
    with info.strategy.scope():
        pass


def test_multi_worker_needs_tensorflow(monkeypatch):
    cluster = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    monkeypatch.setattr(backends, "backend_name", lambda: "jax")
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        backends.select_distribution()


def test_tensorboard_only_on_tensorflow(monkeypatch):
    assert backends.tensorboard_note() is None  # TensorFlow and tensorboard are installed here
    monkeypatch.setattr(backends, "backend_name", lambda: "torch")
    assert "TensorFlow backend (torch)" in (backends.tensorboard_note() or "")


_DATA_PARALLEL = """
import json, sys
from segkit.training import TrainConfig, train
config = TrainConfig(epochs=1, depth=2, base_filters=4, batch_size=5, sample_figures=0)
run = train(sys.argv[1], config, runs_dir=sys.argv[2], run_id="dp")
print(json.dumps({"env": run.environment, "epochs": run.history["epoch"]}))
"""


@pytest.mark.slow
def test_jax_splits_batches_over_several_devices(prepared_small, tmp_path):
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",  # two CPU devices
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    cmd = [sys.executable, "-c", _DATA_PARALLEL, str(prepared_small), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["env"]["strategy"] == "data_parallel" and out["env"]["replicas"] == 2
    assert len(out["env"]["devices"]) == 2 and out["epochs"] == [1]
    assert load_run(tmp_path / "dp").status == "finished"
