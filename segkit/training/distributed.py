"""Devices and distribution: which strategy to train under, and a custom loop for several workers.

- several workers in ``TF_CONFIG``: ``MultiWorkerMirroredStrategy`` and :func:`fit_custom`, a
  training loop written with ``strategy.run`` / ``strategy.reduce``, because Keras 3's
  ``model.fit`` does not work under that strategy (keras-team/keras#20585);
- more than one GPU: ``MirroredStrategy`` and ``model.fit``;
- otherwise the default strategy (one GPU or the CPU).

This is the TensorFlow backend's part; :mod:`segkit.training.backends` chooses per backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from segkit.decision import ops_one_hot_mask
from segkit.losses import foreground, prepare_targets
from segkit.training.backends import StrategyInfo, tf_config_workers

__all__ = ["StrategyInfo", "select_strategy", "tf_config_workers", "fit_custom", "per_image_dice"]


def select_strategy() -> StrategyInfo:
    """The strategy for this process: multi-worker, mirrored (several GPUs) or default."""
    gpus = len(tf.config.list_physical_devices("GPU"))
    workers, position = tf_config_workers()
    if workers > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        replicas = strategy.num_replicas_in_sync
        return StrategyInfo(strategy, "multi_worker", replicas, position == 0, gpus, position)
    if gpus > 1:
        strategy = tf.distribute.MirroredStrategy()
        return StrategyInfo(strategy, "mirrored", strategy.num_replicas_in_sync, True, gpus)
    return StrategyInfo(tf.distribute.get_strategy(), "default", 1, True, gpus)


def per_image_dice(y_true: Any, y_pred: Any, num_classes: int, threshold: float = 0.5) -> Any:
    """Hard Dice per image ``(B,)``, averaged over foreground classes; empty vs empty is 1.

    The prediction becomes a mask by :func:`segkit.decision.ops_one_hot_mask`
    (binary: probability >= ``threshold``; multi-class: argmax), as in the Keras metrics.
    """
    t, p = prepare_targets(y_true, y_pred, num_classes)
    p = ops_one_hot_mask(p, threshold=threshold)
    t, p = foreground(t, p, num_classes)
    intersection = ops.sum(t * p, axis=(1, 2))
    total = ops.sum(t, axis=(1, 2)) + ops.sum(p, axis=(1, 2))
    dice = ops.where(total > 0, 2.0 * intersection / ops.maximum(total, 1.0), 1.0)
    return ops.mean(dice, axis=-1)


def _per_example_loss(loss: Any, y_true: Any, y_pred: Any) -> Any:
    values = loss.call(y_true, y_pred)
    rank = len(values.shape)
    if rank > 1:
        values = ops.mean(values, axis=tuple(range(1, rank)))
    return values


def _sync_function(model: keras.Model, strategy: Any) -> Callable[[], None] | None:
    """Average the non-trainable variables (batch-norm statistics) over all replicas.

    Each worker sees its own shard, so its batch-norm moving statistics drift apart from the
    others'; averaging them after every epoch keeps every worker's model identical.
    """
    variables = list(model.non_trainable_variables)
    if not variables:
        return None

    @tf.function
    def sync() -> None:
        local = strategy.run(lambda: [tf.identity(v.value) for v in variables])
        for variable, value in zip(variables, local):
            variable.assign(strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None))

    return sync


def fit_custom(
    model: keras.Model,
    info: StrategyInfo,
    train_fn: Callable[[Any], tf.data.Dataset],
    val_fn: Callable[[Any], tf.data.Dataset] | None,
    *,
    epochs: int,
    initial_epoch: int,
    global_batch_size: int,
    num_classes: int,
    callbacks: Sequence[keras.callbacks.Callback],
    threshold: float = 0.5,
) -> None:
    """Train a compiled ``model`` with a ``strategy.run`` loop (one step per global batch).

    Parameters
    ----------
    model : keras.Model
        Built and compiled under ``info.strategy.scope()``; its loss and optimizer are used.
    info : StrategyInfo
    train_fn, val_fn : callable
        ``input_context -> tf.data.Dataset`` of per-replica batches (sharded per worker).
    epochs, initial_epoch : int
        Train epochs ``initial_epoch .. epochs - 1``.
    global_batch_size : int
        The batch size summed over replicas (the loss is averaged over it).
    num_classes : int
    callbacks : sequence of keras.callbacks.Callback
        Receive ``on_train_begin``, ``on_epoch_begin/end`` (logs ``loss``, ``dice``,
        ``val_loss``, ``val_dice``), ``on_test_begin/end`` around each validation and
        ``on_train_end``; they may set ``model.stop_training``.
    """
    strategy = info.strategy
    loss = model.loss
    optimizer = model.optimizer
    train_data = strategy.distribute_datasets_from_function(train_fn)
    val_data = strategy.distribute_datasets_from_function(val_fn) if val_fn else None

    def replica_train(images: Any, masks: Any) -> tuple[Any, Any, Any]:
        with tf.GradientTape() as tape:
            pred = model(images, training=True)
            per_example = _per_example_loss(loss, masks, pred)
            value = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            scaled = optimizer.scale_loss(value) if hasattr(optimizer, "scale_loss") else value
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        dice = per_image_dice(masks, pred, num_classes, threshold)
        count = tf.cast(tf.shape(images)[0], tf.float32)
        return tf.reduce_sum(per_example), tf.reduce_sum(dice), count

    def replica_eval(images: Any, masks: Any) -> tuple[Any, Any, Any]:
        pred = model(images, training=False)
        per_example = _per_example_loss(loss, masks, pred)
        dice = per_image_dice(masks, pred, num_classes, threshold)
        count = tf.cast(tf.shape(images)[0], tf.float32)
        return tf.reduce_sum(per_example), tf.reduce_sum(dice), count

    def reduced(fn: Callable[..., Any], batch: Any) -> list[Any]:
        values = strategy.run(fn, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in values]

    train_step = tf.function(lambda batch: reduced(replica_train, batch))
    eval_step = tf.function(lambda batch: reduced(replica_eval, batch))

    def run_epoch(data: Any, step: Callable[[Any], list[Any]]) -> tuple[float, float]:
        totals = [0.0, 0.0, 0.0]
        for batch in data:
            for k, v in enumerate(step(batch)):
                totals[k] += float(v)
        count = max(totals[2], 1.0)
        return totals[0] / count, totals[1] / count

    sync = _sync_function(model, strategy)
    cb = keras.callbacks.CallbackList(list(callbacks), model=model)
    model.stop_training = False
    cb.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        cb.on_epoch_begin(epoch)
        start = time.perf_counter()
        train_loss, train_dice = run_epoch(train_data, train_step)
        if sync is not None:
            sync()
        logs = {"loss": train_loss, "dice": train_dice}
        if val_data is not None:
            cb.on_test_begin()  # as in fit: weight averaging swaps its weights in here
            val_loss, val_dice = run_epoch(val_data, eval_step)
            cb.on_test_end()
            logs.update(val_loss=val_loss, val_dice=val_dice)
        logs["seconds"] = time.perf_counter() - start
        cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cb.on_train_end()
