from __future__ import annotations

import json
import os

from support import require_module

require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")
mlflow = require_module("mlflow", "the tracking extra: pip install -e '.[tracking]'")

from segkit.cli import main  # noqa: E402
from segkit.training.config import TrainConfig  # noqa: E402


def test_segkit_train_cli_logs_to_mlflow(prepared_small, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    config_file = tmp_path / "base.json"
    TrainConfig(epochs=5, depth=2, base_filters=4, sample_figures=1).save(config_file)
    argv = [
        "train", str(prepared_small), "--config", str(config_file), "--epochs", "2",
        "--batch-size", "4", "--run-id", "cli", "--runs-dir", str(tmp_path / "runs"),
        "--mlflow-uri", uri, "--no-augment",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "MLFLOW_TRACKING_URI" not in os.environ  # no process-wide side effect
    out = capsys.readouterr().out
    assert "run cli: finished, epochs 2/2" in out and "test_dice" in out
    saved = TrainConfig.load(tmp_path / "runs" / "cli" / "config.json")
    assert (saved.epochs, saved.batch_size, saved.depth, saved.augment) == (2, 4, 2, False)

    record = json.loads((tmp_path / "runs" / "cli" / "mlflow.json").read_text())
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["batch_size"] == "4" and run.data.params["dataset_fingerprint"]
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == [1, 2]
    assert "final.test.dice" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.json", "history.csv", "metrics.json", "model", "figures"} <= artifacts
    model_files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert model_files == {"model/model.keras", "model/model.json"}


def test_train_cli_rejects_bad_values(prepared_small, tmp_path, capsys):
    argv = ["train", str(prepared_small), "--epochs", "0", "--runs-dir", str(tmp_path)]
    assert main(argv) == 1
    assert "'epochs'" in capsys.readouterr().err
