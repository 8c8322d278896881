"""``train``: from a prepared data set and a config to a run folder with a trained model.

The run folder ``RUNS/<run-id>/`` holds the config, template, data set and environment records,
the history, the metrics, ``model.keras`` + ``model.json`` (the best weights, saved with
:func:`segkit.models.save_model`), ``checkpoints/``, ``figures/`` and ``tensorboard/``; its
format and writers belong to :mod:`segkit.runs` (``docs/runs.md``). Calling :func:`train` again
with the same ``run_id`` resumes an interrupted run from its last checkpoint (weights, optimizer
state and epoch).

It trains on any Keras backend: on TensorFlow with ``tf.data`` and ``tf.distribute``, on JAX and
PyTorch with a ``keras.utils.PyDataset`` (:mod:`segkit.training.backends` says what differs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

import segkit.losses
import segkit.metrics
from segkit.dataset.manifest import Manifest, load_manifest
from segkit.dataset.verify import require_trainable, require_verified
from segkit.files import atomic_path
from segkit.instances.targets import output_class_names
from segkit.models import ModelInfo, build_unet, save_model
from segkit.runs import Run, load_run, new_run_id
from segkit.runs.layout import (
    BEST_WEIGHTS,
    CHECKPOINTS,
    FIGURES,
    HISTORY,
    HISTORY_FIGURE,
    MODEL_INFO,
    PREDICTIONS_FIGURE,
    worker_dir,
)
from segkit.runs.lock import run_lock
from segkit.runs.reader import read_state
from segkit.runs.writer import write_config, write_metrics, write_run_files
from segkit.tracking import MLflowLogger, tracking_uri
from segkit.training.averaging import AveragedValidation
from segkit.training.backends import StrategyInfo, select_distribution, uses_tf_data
from segkit.training.callbacks import RunCheckpoint
from segkit.training.config import TrainConfig
from segkit.training.fitting import eval_data, fit_model
from segkit.training.loading import load_arrays, training_stain
from segkit.training.rundir import check_resumable, environment_info

__all__ = ["train", "build_model", "make_optimizer"]


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """The optimizer named by ``config.optimizer`` with its learning rate and weight decay,
    keeping a moving average of the weights when ``config.ema`` is set."""
    lr, wd = config.learning_rate, config.weight_decay or None
    average: dict[str, Any] = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr, weight_decay=wd, **average)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay or 0.004, **average)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=wd, **average)
    return keras.optimizers.RMSprop(lr, weight_decay=wd, **average)


def build_model(config: TrainConfig, channels: int, num_classes: int) -> keras.Model:
    """The U-Net of ``config`` for any input size, compiled with its optimizer, loss, metrics."""
    model = _architecture(config, channels, num_classes)
    model.compile(
        optimizer=make_optimizer(config),
        loss=segkit.losses.get_loss(config.resolved_loss(num_classes), num_classes),
        metrics=segkit.metrics.get_metrics(num_classes, threshold=config.threshold),
    )
    return model


def _architecture(config: TrainConfig, channels: int, num_classes: int) -> keras.Model:
    return build_unet(
        (None, None, channels),
        num_classes,
        depth=config.depth,
        base_filters=config.base_filters,
        batch_norm=config.batch_norm,
        dropout=config.dropout,
        upsampling=config.upsampling,
    )


def _precision(config: TrainConfig, gpus: int) -> str:
    if config.mixed_precision == "bf16":
        return "mixed_bfloat16"
    if config.mixed_precision == "on" or (config.mixed_precision == "auto" and gpus > 0):
        return "mixed_float16"
    return "float32"


def train(
    dataset_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    runs_dir: str | Path = "runs",
    run_id: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verify: bool = True,
) -> Run:
    """Train a U-Net on a prepared data set and record everything in a run folder.

    Parameters
    ----------
    dataset_dir : path
        A prepared data set (``segkit prepare``): its ``train`` part is trained on, its ``val``
        part picks the best epoch and its ``test`` part gives the final metrics.
    config : TrainConfig, optional
        Hyper-parameters (default ``TrainConfig()``).
    runs_dir : path
        Parent folder of the run folders.
    run_id : str, optional
        Name of the run folder; a new time-stamped id when ``None``. An existing, unfinished
        run with this id is resumed from its last checkpoint.
    callbacks : sequence of keras.callbacks.Callback
        Extra Keras callbacks (called on every worker under a multi-worker strategy).
    verify : bool, default True
        Check every file of the data set against its manifest before the first step
        (:func:`segkit.dataset.verify.require_verified`; only files whose stat changed since
        the last check are hashed again) and refuse a changed data set, naming the files.

    Returns
    -------
    Run
        The run folder, loaded. Under a multi-worker strategy worker 0 writes the run folder
        and worker N > 0 writes its own copy to ``<run folder>/workers/worker-N``.

    Raises
    ------
    RunInUseError
        When another process is training in the same run folder (nothing is changed).
    VerifyError
        When the data set differs from its manifest (and ``verify`` is true).
    """
    config = config or TrainConfig()
    manifest = load_manifest(dataset_dir)
    if not manifest.split("train"):
        raise ValueError(f"{manifest.root}: the data set has no 'train' pairs to train on")
    require_trainable(manifest)
    if verify:
        require_verified(manifest.root)
    training_stain(manifest, config)  # refuses a grey data set or one without stain at once
    info = select_distribution()
    run_id = run_id or new_run_id(config.to_json(), manifest.fingerprint)
    run_dir = Path(runs_dir) / run_id
    if not info.is_chief:
        run_dir = run_dir / worker_dir(info.worker)
    previous_policy = keras.mixed_precision.global_policy().name
    precision = _precision(config, info.gpus)
    keras.mixed_precision.set_global_policy(precision)
    try:
        with run_lock(run_dir):
            _train(manifest, config, info, run_dir, precision, list(callbacks))
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return load_run(run_dir)


def _train(
    manifest: Manifest,
    config: TrainConfig,
    info: StrategyInfo,
    run_dir: Path,
    precision: str,
    user_callbacks: list[keras.callbacks.Callback],
) -> None:
    state = read_state(run_dir)
    if state is not None:
        check_resumable(run_dir, config, manifest.fingerprint)
        write_config(run_dir, config)
        if (run_dir / MODEL_INFO).is_file() and _finished(state, config):
            return
    else:
        notes = _notes(info) + _init_notes(config)
        env = environment_info(info.kind, info.replicas, precision, notes=notes)
        write_run_files(run_dir, config, manifest, env)
    keras.utils.set_random_seed(config.seed)
    template = manifest.template
    num_classes = len(output_class_names(template))
    with info.strategy.scope():
        if state is not None:
            model = keras.models.load_model(run_dir / CHECKPOINTS / state["last"])
        else:
            model = build_model(config, template.channels, num_classes)
            if config.init_model is not None:
                start_from(model, config.init_model)
    has_val = bool(manifest.split("val"))
    monitor = config.monitor if has_val else config.monitor.removeprefix("val_")
    checkpoint = RunCheckpoint(
        run_dir, monitor=monitor, patience=config.patience, min_delta=config.min_delta, state=state
    )
    tracker = _tracker(config, run_dir, manifest)
    cbs: list[keras.callbacks.Callback] = [checkpoint, *user_callbacks]
    if config.ema:
        cbs.insert(0, AveragedValidation())
    if tracker is not None:
        cbs.append(tracker)
    initial_epoch = int(state["epoch"]) if state else 0
    start = time.perf_counter()
    if initial_epoch < config.epochs and not (state or {}).get("stopped_early"):
        fit_model(
            model,
            manifest,
            config,
            info,
            cbs,
            initial_epoch=initial_epoch,
            has_val=has_val,
            run_dir=run_dir,
        )
    seconds = time.perf_counter() - start
    _finish(model, manifest, config, checkpoint, run_dir, seconds, tracker)


def start_from(model: keras.Model, reference: str) -> None:
    """Set ``model``'s weights to those of the model ``reference`` names (fine-tuning).

    Raises
    ------
    ConfigError
        When the two U-Nets differ; the message names the first weight that differs.
    """
    from segkit.models.resolve import resolve_model
    from segkit.training.config import ConfigError

    source, _ = resolve_model(reference)
    if not hasattr(source, "get_weights"):
        raise ConfigError(
            f"init_model {reference}: an ONNX file cannot be trained further; start from the "
            ".keras model or run folder it was exported from"
        )
    mine, theirs = model.get_weights(), source.get_weights()
    shapes = [(a.shape, b.shape) for a, b in zip(mine, theirs, strict=False)]
    wrong = next((k for k, (a, b) in enumerate(shapes) if a != b), None)
    if len(mine) != len(theirs) or wrong is not None:
        where = (
            f"weight {wrong} is {shapes[wrong][1]} there and {shapes[wrong][0]} here"
            if wrong is not None
            else f"{len(theirs)} weights there, {len(mine)} here"
        )
        raise ConfigError(
            f"init_model {reference}: its U-Net differs from this config and data set "
            f"({where}); use the same depth, base_filters, channels and classes"
        )
    model.set_weights(theirs)


def _notes(info: StrategyInfo) -> list[str]:
    if info.kind == "default" and info.gpus > 1 and not uses_tf_data():
        return [f"trained on one of {info.gpus} GPUs: Keras distributes only on TF and JAX"]
    return []


def _init_notes(config: TrainConfig) -> list[str]:
    """Which weights the run started from, with the file's SHA-256 (runs stay reproducible)."""
    from segkit.files import sha256_file
    from segkit.models.bundled import bundled_model_path, is_bundled_name

    ref = config.init_model
    if ref is None:
        return []
    path = bundled_model_path(ref) if is_bundled_name(ref) else Path(ref)
    path = path / "model.keras" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"init_model {ref}: {path} does not exist")
    return [f"initial weights from {ref} (sha256 {sha256_file(path)})"]


def _finished(state: dict[str, Any], config: TrainConfig) -> bool:
    return bool(state.get("stopped_early")) or int(state.get("epoch", 0)) >= config.epochs


def _tracker(config: TrainConfig, run_dir: Path, manifest: Manifest) -> MLflowLogger | None:
    uri = tracking_uri(config.mlflow_tracking_uri)
    if uri is None:
        return None
    params = {**config.to_dict(), "dataset_fingerprint": manifest.fingerprint}
    params.pop("mlflow_tracking_uri", None)
    return MLflowLogger(run_dir, uri, params, experiment=config.mlflow_experiment)


def _finish(
    model: keras.Model,
    manifest: Manifest,
    config: TrainConfig,
    checkpoint: RunCheckpoint,
    run_dir: Path,
    seconds: float,
    tracker: MLflowLogger | None,
) -> None:
    best = run_dir / CHECKPOINTS / BEST_WEIGHTS
    if best.is_file():
        model.load_weights(best)
    template = manifest.template
    metrics: dict[str, Any] = {
        "epochs": len(checkpoint.history),
        "best_epoch": checkpoint.best_epoch,
        "monitor": checkpoint.monitor,
        "best": checkpoint.best,
        "stopped_early": checkpoint.stopped_early,
        "train_seconds_last_session": round(seconds, 2),
    }
    if checkpoint.best_epoch is not None:
        row = checkpoint.history[checkpoint.best_epoch - 1]
        metrics["best_epoch_logs"] = {k: v for k, v in row.items() if k != "epoch"}
    # A float32 copy outside any distribution strategy: evaluated, drawn and saved.
    keras.mixed_precision.set_global_policy("float32")
    final = build_model(config, template.channels, len(output_class_names(template)))
    final.set_weights(model.get_weights())
    for part in ("val", "test"):
        if manifest.split(part):
            data = eval_data(manifest, part, config)
            values = final.evaluate(data, verbose=0, return_dict=True)
            metrics[part] = {k: float(v) for k, v in values.items()}
    save_model(final, run_dir, _model_info(manifest, config))
    write_metrics(run_dir, metrics)
    _write_figures(final, manifest, config, run_dir)
    if tracker is not None:
        tracker.finish(metrics)


def _model_info(manifest: Manifest, config: TrainConfig) -> ModelInfo:
    """The saved model's info: the data set's, at the patch size when training used patches,
    with the stain normalisation fitted on the training images."""
    size = config.patch_size
    shape = (size, size, manifest.template.channels) if size else None
    info = ModelInfo.from_manifest(manifest, input_shape=shape, threshold=config.threshold)
    stain = training_stain(manifest, config)
    return info if stain is None else info.replace(stain_normalisation=stain)


def _write_figures(model: keras.Model, manifest: Manifest, config: TrainConfig, run: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from segkit.decision import probabilities_to_mask
    from segkit.viz import plot_history, prediction_grid

    figures = run / FIGURES
    figures.mkdir(exist_ok=True)
    if (run / HISTORY).is_file():
        _save_figure(plot_history(run / HISTORY), figures / HISTORY_FIGURE, plt)
    if not config.sample_figures:
        return
    pairs = (manifest.split("test") or manifest.split("val") or manifest.split("train"))[
        : config.sample_figures
    ]
    images, masks = load_arrays(manifest, pairs, stain=training_stain(manifest, config))
    multiple = 2**config.depth
    h, w = (images.shape[1] // multiple) * multiple, (images.shape[2] // multiple) * multiple
    images, masks = images[:, :h, :w], masks[:, :h, :w]
    proba = model.predict(images.astype(np.float32), verbose=0, batch_size=config.batch_size)
    predictions = probabilities_to_mask(proba, threshold=config.threshold)
    fig = prediction_grid(
        list(images), list(masks), list(predictions), titles=[p.name for p in pairs],
        max_samples=config.sample_figures,
    )  # fmt: skip
    _save_figure(fig, figures / PREDICTIONS_FIGURE, plt)


def _save_figure(fig: Any, target: Path, plt: Any) -> None:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
