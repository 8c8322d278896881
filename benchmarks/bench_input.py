"""Benchmark the input pipelines: patches/s that feed a training step, per thread and in all.

On a prepared synthetic RGB data set (``--pairs`` images of ``--size`` px) with the GPU
recipe's training input (``--patch`` patches, ``--per-image`` of them an image an epoch,
batches of ``--batch``, flips and turns, brightness/contrast 0.1, H&E stain jitter 0.3), after
one pass that fills the decoded-image cache:

- the backend-neutral pipeline (``segkit.training.pydataset.PairDataset``, what JAX and
  PyTorch train on): patches/s with 1, 2, 4, 8 and 16 threads (those up to the CPU count, and
  2 at least), each thread computing whole batches as the workers of ``keras.utils.PyDataset``
  do;
- TensorFlow's ``tf.data`` pipeline (``segkit.training.pipeline.make_dataset``) on the same
  data and configuration, when TensorFlow is installed: the reference, side by side.

A GPU step of the recipe's U-Net (depth 4 / 32 filters) takes thousands of 256x256 patches a
second, so a pipeline's patches/s is the ceiling of training throughput off TensorFlow.

Usage: ``python benchmarks/bench_input.py [--pairs 32] [--size 512] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _prepared(work: Path, pairs: int, size: int) -> Path:
    from segkit.dataset import prepare_dataset
    from segkit.synthetic import make_synthetic_dataset
    from segkit.template import DatasetTemplate

    source = make_synthetic_dataset(work / "source", pairs, height=size, width=size, seed=3)
    template = DatasetTemplate(height=size, width=size, split={"train": 1.0, "val": 0, "test": 0})
    prepare_dataset(source, work / "prepared", template, progress=False)
    return work / "prepared"


def _best_rate(run, patches: int, rounds: int) -> float:
    """Patches/s of the fastest of ``rounds`` calls of ``run`` (each yields ``patches``)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return patches / best


def pydataset_rates(manifest, config, rounds: int) -> dict[str, float]:
    from segkit.training.pydataset import PairDataset

    threads = [n for n in (1, 2, 4, 8, 16) if n <= max(2, os.cpu_count() or 1)]

    data = PairDataset(manifest, "train", config, training=True)
    batches = range(len(data))
    for index in batches:  # fill the cache, as after the first epoch of training
        data[index]
    patches = sum(len(data[i][0]) for i in batches)
    rates = {}
    for count in threads:
        with ThreadPoolExecutor(count) as pool:
            rates[f"pydataset_{count}_threads"] = _best_rate(
                lambda pool=pool: list(pool.map(data.__getitem__, batches)), patches, rounds
            )
    return rates


def tfdata_rate(manifest, config, rounds: int) -> float | None:
    try:
        from segkit.training.pipeline import make_dataset
    except ImportError:  # no TensorFlow: the PyDataset figures alone
        return None
    data = make_dataset(manifest, "train", config, training=True)
    patches = sum(int(images.shape[0]) for images, _ in data)  # also fills the cache
    return _best_rate(lambda: [None for _ in data], patches, rounds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--patch", type=int, default=256)
    ap.add_argument("--per-image", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    from segkit.dataset import load_manifest
    from segkit.training import TrainConfig

    config = TrainConfig(
        patch_size=args.patch, patches_per_image=args.per_image, batch_size=args.batch,
        stain_jitter=0.3, augment=True, seed=2,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        manifest = load_manifest(_prepared(Path(tmp), args.pairs, args.size))
        figures: dict[str, float | int | None] = {
            "cpus": os.cpu_count(),
            **pydataset_rates(manifest, config, args.rounds),
        }
        figures["tfdata"] = tfdata_rate(manifest, config, args.rounds)
    print(json.dumps(figures, indent=2))
    for key, value in figures.items():
        if key != "cpus" and value is not None:
            print(f"{key}: {value:.0f} patches/s")
    if figures["tfdata"]:
        one = figures["pydataset_1_threads"]
        assert isinstance(one, float)
        print(f"PyDataset with 1 thread / tf.data: {one / figures['tfdata']:.2f}x")


if __name__ == "__main__":
    main()
