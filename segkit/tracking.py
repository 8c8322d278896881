"""Optional MLflow logging of a run: parameters, per-epoch metrics, artifacts and the model.

Active when ``mlflow`` is importable and a tracking URI is given (``TrainConfig`` field
``mlflow_tracking_uri`` or the ``MLFLOW_TRACKING_URI`` environment variable). The MLflow run id
is stored in the run folder (``mlflow.json``), so a resumed run keeps logging to the same
MLflow run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras

from segkit.runs.layout import FIGURES, MODEL, MODEL_INFO, RECORDS
from segkit.runs.reader import read_mlflow_record
from segkit.runs.writer import write_mlflow_record

__all__ = ["tracking_uri", "MLflowLogger"]


def tracking_uri(configured: str | None = None) -> str | None:
    """The MLflow tracking URI to use, or ``None`` when MLflow logging is off."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return None
    return uri


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = float(value)


class MLflowLogger(keras.callbacks.Callback):
    """Log a segkit run to MLflow.

    Parameters
    ----------
    run_dir : path
        The segkit run folder (its id names the MLflow run).
    uri : str
        MLflow tracking URI (``sqlite:///...``, ``file:...``, ``http://...``).
    params : dict
        Logged once as parameters (the config and the data set fingerprint).
    experiment : str
        MLflow experiment name.
    """

    def __init__(
        self, run_dir: str | Path, uri: str, params: dict[str, Any], *, experiment: str = "segkit"
    ) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.uri = uri
        self.run_params = params
        self.experiment = experiment
        self.mlflow_run_id: str | None = None

    def _client(self) -> Any:
        # A client bound to the URI: no process-wide MLflow state (environment, active run).
        import mlflow

        return mlflow.MlflowClient(tracking_uri=self.uri)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        previous = read_mlflow_record(self.run_dir)
        if previous.get("uri") == self.uri and previous.get("run_id"):
            self.mlflow_run_id = previous["run_id"]
            return
        from mlflow.entities import Param, RunTag

        client = self._client()
        experiment = client.get_experiment_by_name(self.experiment)
        experiment_id = (
            experiment.experiment_id if experiment else client.create_experiment(self.experiment)
        )
        tags = {"segkit.run_dir": str(self.run_dir.resolve())}
        run = client.create_run(experiment_id, run_name=self.run_dir.name, tags=tags)
        self.mlflow_run_id = run.info.run_id
        params = [Param(k, str(v)) for k, v in self.run_params.items()]
        client.log_batch(self.mlflow_run_id, params=params, tags=[RunTag("segkit", "1")])
        payload = {"uri": self.uri, "run_id": self.mlflow_run_id, "experiment": self.experiment}
        write_mlflow_record(self.run_dir, payload)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.mlflow_run_id:
            return
        metrics: dict[str, Any] = {}
        _flat("", dict(logs or {}), metrics)
        client = self._client()
        for key, value in metrics.items():
            client.log_metric(self.mlflow_run_id, key, value, step=epoch + 1)

    def finish(self, metrics: dict[str, Any]) -> None:
        """Log the final metrics, the run's files and the model; mark the MLflow run finished."""
        if not self.mlflow_run_id:
            return
        client = self._client()
        flat: dict[str, Any] = {}
        _flat("final", metrics, flat)
        for key, value in flat.items():
            client.log_metric(self.mlflow_run_id, key, value)
        for name in RECORDS:
            if (self.run_dir / name).is_file():
                client.log_artifact(self.mlflow_run_id, str(self.run_dir / name))
        for name in (MODEL, MODEL_INFO):
            if (self.run_dir / name).is_file():
                client.log_artifact(self.mlflow_run_id, str(self.run_dir / name), "model")
        figures = self.run_dir / FIGURES
        if figures.is_dir():
            client.log_artifacts(self.mlflow_run_id, str(figures), "figures")
        client.set_terminated(self.mlflow_run_id, "FINISHED")
