from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from segkit.training.distributed import tf_config_workers

_WORKER = """
import sys
import keras
import numpy as np
from segkit.training import TrainConfig, train

class DumpWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        np.savez(sys.argv[3], *self.model.get_weights())

config = TrainConfig.from_json(sys.argv[4])
run = train(sys.argv[1], config, runs_dir=sys.argv[2], run_id="mw", callbacks=[DumpWeights()])
print("RUN", run.path, run.history["epoch"])
"""


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_tf_config_workers(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert tf_config_workers() == (1, 0)
    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    assert tf_config_workers() == (3, 2)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        tf_config_workers()


@pytest.mark.slow
def test_two_workers_train_to_identical_weights(prepared_small, tmp_path):
    from segkit.training import TrainConfig

    config = TrainConfig(  # with weight averaging: its swap works on mirrored variables
        epochs=2, batch_size=4, depth=2, base_filters=4, patience=0, sample_figures=0, ema=0.9
    )
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            TF_CPP_MIN_LOG_LEVEL="3",
            CUDA_VISIBLE_DEVICES="",
        )
        args = [
            str(prepared_small), str(tmp_path / "runs"), str(tmp_path / f"w{index}.npz"),
            config.to_json(),
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=120)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:]
        assert "[1, 2]" in out
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(w0.files) == len(w1.files) > 0
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key])
    run_dir = tmp_path / "runs" / "mw"
    assert (run_dir / "model.keras").is_file() and (run_dir / "history.csv").is_file()
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["strategy"] == "multi_worker" and env["replicas"] == 2
    assert (run_dir / "workers" / "worker-1" / "history.csv").is_file()
