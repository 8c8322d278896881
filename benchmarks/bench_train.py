"""Benchmark segkit's training: is it ever input-bound, and what does its bookkeeping cost?

On a prepared synthetic data set (``--pairs`` images of ``--size`` px, RGB, binary masks):

(a) images/s of segkit's input pipeline alone (decode from the cache, shuffle, paired
    augmentation, batch) vs images/s the training step consumes (the same model's
    ``train_on_batch`` fed from memory). Target: the pipeline is >= 3x the step.
(b) seconds per epoch of ``segkit.training.train`` (tf.data, augmentation, validation, best and
    last checkpoint, CSV, TensorBoard) vs a bare ``model.fit`` on in-memory arrays with the same
    model, batch size and validation data. The first epoch (tracing) is left out of both.
    Target: <= 1.10x.

Usage: ``python benchmarks/bench_train.py [--pairs 64] [--size 128] [--epochs 4]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _prepared(work: Path, pairs: int, size: int) -> Path:
    from segkit.dataset import prepare_dataset
    from segkit.synthetic import make_synthetic_dataset
    from segkit.template import DatasetTemplate

    source = make_synthetic_dataset(work / "source", pairs, height=size, width=size, seed=3)
    template = DatasetTemplate(
        height=size, width=size, split={"train": 0.75, "val": 0.25, "test": 0.0}
    )
    prepare_dataset(source, work / "prepared", template, progress=False)
    return work / "prepared"


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def pipeline_vs_step(prepared: Path, config, repeats: int) -> dict:
    import numpy as np

    from segkit.dataset import load_manifest
    from segkit.training.loop import build_model
    from segkit.training.pipeline import load_arrays, make_dataset

    manifest = load_manifest(prepared)
    ds = make_dataset(manifest, "train", config, training=True)
    for _ in ds:  # fill the cache, as after the first epoch of training
        pass
    count, start = 0, time.perf_counter()
    for _ in range(repeats):
        for images, _masks in ds:
            count += int(images.shape[0])
    pipeline = count / (time.perf_counter() - start)

    images, masks = load_arrays(manifest, manifest.split("train")[: config.batch_size])
    x, y = images.astype(np.float32), masks[..., None]
    model = build_model(config, manifest.template.channels, manifest.template.num_classes)
    for _ in range(3):
        model.train_on_batch(x, y)
    steps, start = 20, time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    step = steps * len(x) / (time.perf_counter() - start)
    return {"pipeline_images_per_s": pipeline, "step_images_per_s": step, "ratio": pipeline / step}


def train_vs_fit(prepared: Path, config, work: Path) -> dict:
    import numpy as np

    from segkit.dataset import load_manifest
    from segkit.training import train
    from segkit.training.loop import build_model
    from segkit.training.pipeline import load_arrays

    timer = _epoch_timer()
    train(prepared, config, runs_dir=work / "runs", run_id="bench", callbacks=[timer])
    segkit_epoch = statistics.median(timer.seconds[1:])

    manifest = load_manifest(prepared)
    x, y = load_arrays(manifest, manifest.split("train"))
    vx, vy = load_arrays(manifest, manifest.split("val"))
    model = build_model(config, manifest.template.channels, manifest.template.num_classes)
    timer = _epoch_timer()
    model.fit(
        x.astype(np.float32), y[..., None], batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(vx.astype(np.float32), vy[..., None]), callbacks=[timer], verbose=0,
    )  # fmt: skip
    fit_epoch = statistics.median(timer.seconds[1:])
    return {
        "segkit_seconds_per_epoch": segkit_epoch,
        "fit_seconds_per_epoch": fit_epoch,
        "ratio": segkit_epoch / fit_epoch,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--base-filters", type=int, default=16)
    args = ap.parse_args()

    from segkit.training import TrainConfig

    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, depth=args.depth,
        base_filters=args.base_filters, patience=0, sample_figures=0, mixed_precision="off",
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="segkit-bench-train-") as tmp:
        work = Path(tmp)
        prepared = _prepared(work, args.pairs, args.size)
        a = pipeline_vs_step(prepared, config, repeats=5)
        b = train_vs_fit(prepared, config, work)
    print(json.dumps({"config": config.to_dict(), "a": a, "b": b}, indent=2))
    print(
        f"(a) pipeline {a['pipeline_images_per_s']:.0f} img/s vs step "
        f"{a['step_images_per_s']:.0f} img/s: {a['ratio']:.1f}x "
        f"({'ok' if a['ratio'] >= 3 else 'BELOW'} target >= 3x)"
    )
    print(
        f"(b) segkit.train {b['segkit_seconds_per_epoch']:.2f} s/epoch vs model.fit "
        f"{b['fit_seconds_per_epoch']:.2f} s/epoch: {b['ratio']:.2f}x "
        f"({'ok' if b['ratio'] <= 1.10 else 'ABOVE'} target <= 1.10x)"
    )


if __name__ == "__main__":
    main()
