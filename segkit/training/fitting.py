"""``model.fit`` on each Keras backend: which input pipeline feeds it, under which distribution.

- TensorFlow: the ``tf.data`` pipeline (:mod:`segkit.training.pipeline`); ``model.fit`` under
  the default or mirrored strategy, with TensorBoard logs; :func:`segkit.training.distributed.
  fit_custom` under a multi-worker strategy.
- JAX and PyTorch: the ``keras.utils.PyDataset`` pipeline (:mod:`segkit.training.pydataset`);
  ``model.fit`` in the scope of the distribution (``DataParallel`` on several JAX devices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from segkit.dataset.manifest import Manifest
from segkit.instances.targets import output_class_names
from segkit.runs.layout import TENSORBOARD
from segkit.training.backends import StrategyInfo, tensorboard_note, uses_tf_data
from segkit.training.config import TrainConfig

__all__ = ["fit_model", "eval_data"]


def fit_model(
    model: keras.Model,
    manifest: Manifest,
    config: TrainConfig,
    info: StrategyInfo,
    cbs: list[keras.callbacks.Callback],
    *,
    initial_epoch: int,
    has_val: bool,
    run_dir: Path,
) -> None:
    """Train ``model`` (compiled in ``info.strategy``'s scope) from ``initial_epoch`` to
    ``config.epochs`` on this backend's input pipeline, with callbacks ``cbs``; on TensorFlow
    also with TensorBoard logs in ``run_dir``."""
    if not uses_tf_data():
        _fit_pydataset(model, manifest, config, info, cbs, initial_epoch, has_val)
        return
    if info.kind == "multi_worker":
        _fit_multi_worker(model, manifest, config, info, cbs, initial_epoch, has_val)
        return
    from segkit.training.pipeline import make_dataset

    train_ds = make_dataset(manifest, "train", config, training=True)
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()
    val_ds = make_dataset(manifest, "val", config, training=False) if has_val else None
    if tensorboard_note() is None:
        cbs = [*cbs, keras.callbacks.TensorBoard(run_dir / TENSORBOARD, write_graph=False)]
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=cbs,
        shuffle=False,
        verbose=0,
    )


def _fit_multi_worker(
    model: keras.Model,
    manifest: Manifest,
    config: TrainConfig,
    info: StrategyInfo,
    cbs: list[keras.callbacks.Callback],
    initial_epoch: int,
    has_val: bool,
) -> None:
    from segkit.training.distributed import fit_custom
    from segkit.training.pipeline import make_dataset

    per_replica = max(1, config.batch_size // info.replicas)

    def train_fn(ctx: Any) -> Any:
        ds = make_dataset(
            manifest, "train", config, training=True, batch_size=per_replica,
            input_context=ctx, drop_remainder=True,
        )  # fmt: skip
        return ds.take(config.steps_per_epoch) if config.steps_per_epoch else ds

    def val_fn(ctx: Any) -> Any:
        return make_dataset(
            manifest, "val", config, training=False, batch_size=per_replica, input_context=ctx
        )

    fit_custom(
        model, info, train_fn, val_fn if has_val else None,
        epochs=config.epochs, initial_epoch=initial_epoch,
        global_batch_size=per_replica * info.replicas,
        num_classes=len(output_class_names(manifest.template)), callbacks=cbs,
        threshold=config.threshold,
    )  # fmt: skip


def _fit_pydataset(
    model: keras.Model,
    manifest: Manifest,
    config: TrainConfig,
    info: StrategyInfo,
    cbs: list[keras.callbacks.Callback],
    initial_epoch: int,
    has_val: bool,
) -> None:
    """``model.fit`` on a ``PyDataset`` in the distribution's scope (JAX, PyTorch).

    Under data parallelism every batch splits evenly over the devices: its size is rounded
    down to a multiple of them (at most the part's size) and incomplete batches are left out.
    """
    from segkit.training.pydataset import FollowEpochs, PairDataset

    split = info.kind == "data_parallel"

    def batch_size(part: str, samples: int) -> int:
        if not split:
            return config.batch_size
        if samples < info.replicas:
            raise ValueError(
                f"{manifest.root}: split part '{part}' has {samples} samples, fewer than the "
                f"{info.replicas} devices that share each batch; train on fewer devices"
            )
        return info.replicas * max(1, min(config.batch_size, samples) // info.replicas)

    samples = len(manifest.split("train")) * config.patches_per_image
    train_data = PairDataset(
        manifest, "train", config, training=True, epoch=initial_epoch,
        batch_size=batch_size("train", samples), drop_remainder=split,
    )  # fmt: skip
    val_data = None
    if has_val:
        size = batch_size("val", len(manifest.split("val")))
        val_data = PairDataset(
            manifest, "val", config, training=False, batch_size=size, drop_remainder=split
        )
    with info.strategy.scope():
        model.fit(
            train_data,
            validation_data=val_data,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            callbacks=[FollowEpochs(train_data), *cbs],
            shuffle=False,
            verbose=0,
        )


def eval_data(manifest: Manifest, part: str, config: TrainConfig) -> Any:
    """Whole-image batches of ``part`` for ``evaluate``, on this backend's input pipeline."""
    if uses_tf_data():
        from segkit.training.pipeline import make_dataset

        return make_dataset(manifest, part, config, training=False)
    from segkit.training.pydataset import PairDataset

    return PairDataset(manifest, part, config, training=False)
