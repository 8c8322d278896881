"""Train segkit's U-Net on MoNuSeg with ``segkit.train`` on whatever Keras backend is present.

The GPU check of the project: the GPU machine has no TensorFlow, so it runs with
``KERAS_BACKEND=jax`` (or ``torch``), where ``segkit.train`` feeds a ``keras.utils.PyDataset``
instead of ``tf.data`` (``segkit/training/backends.py``). It prepares the data set with
``segkit.dataset.prepare_dataset`` (unless ``--data`` names a prepared one), trains a run
folder with ``segkit.train`` and prints

- the backend, the devices, the distribution and the precision the run recorded;
- seconds per epoch and the total training time;
- Dice on the held-out test part (mean per tile and pooled over all test pixels);
- tiled prediction of a 4096 x 4096 image vs ``model.predict`` on the same tiles stacked.

On the GPU machine::

    KERAS_BACKEND=jax python benchmarks/gpu_monuseg.py --source ../shared/data/monuseg2018-train \
        --epochs 100

On a CPU, in a minute (4 source images, 1 epoch, a small model)::

    KERAS_BACKEND=jax python benchmarks/gpu_monuseg.py --source ../shared/data/monuseg2018-train \
        --limit 4 --epochs 1 --depth 2 --base-filters 4 --predict-size 512 --out /tmp/gpu_out
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

#: MoNuSeg at 40x cut into 256 x 256 tiles; 70 / 10 / 20 % of the images for train / val / test.
TEMPLATE = {
    "height": 256,
    "width": 256,
    "fit": "tile",
    "image_type": "jpg",
    "split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 1},
}


def _arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--source", help="the MoNuSeg folder (Tissue_Images, Binary_masks)")
    where.add_argument("--data", help="a data set prepared already (skips preparing)")
    ap.add_argument("--limit", type=int, help="prepare only the first N source images")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--base-filters", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--no-mixed-precision", action="store_true")
    ap.add_argument("--predict-size", type=int, default=4096, help="side of the timed image")
    ap.add_argument("--out", default="gpu_out", help="where the data, run and summary go")
    ap.add_argument("--predict-only", action="store_true", help="time prediction only (untrained)")
    return ap.parse_args()


def prepare(source: Path, out: Path, limit: int | None) -> Path:
    """The prepared data set under ``out``: all of ``source``, or its first ``limit`` images."""
    from segkit.dataset import prepare_dataset

    if limit:
        subset = out / f"source-first-{limit}"
        for folder in ("Tissue_Images", "Binary_masks"):
            (subset / folder).mkdir(parents=True, exist_ok=True)
        for image in sorted((source / "Tissue_Images").iterdir())[:limit]:
            for folder, name in (
                ("Tissue_Images", image.name),
                ("Binary_masks", image.stem + ".png"),
            ):
                shutil.copy2(source / folder / name, subset / folder / name)
        source = subset
    prepared = out / "prepared"
    prepare_dataset(source, prepared, TEMPLATE, overwrite=True, progress=False)
    return prepared


def main() -> None:
    args = _arguments()
    import keras

    from segkit.evaluation import evaluate
    from segkit.training import TrainConfig, train

    out = Path(args.out)
    data = Path(args.data) if args.data else prepare(Path(args.source), out, args.limit)
    if args.predict_only:
        print(json.dumps(_bench_untrained(data, args, out / "untrained"), indent=2))
        return
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        depth=args.depth,
        base_filters=args.base_filters,
        learning_rate=args.learning_rate,
        loss="bce_dice",
        patience=0,
        mixed_precision="off" if args.no_mixed_precision else "auto",
        sample_figures=0,
    )
    started = time.perf_counter()
    run = train(data, config, runs_dir=out / "runs", run_id="monuseg", verify=False)
    wall = time.perf_counter() - started
    env = run.environment
    train_s = float(run.metrics["train_seconds_last_session"])
    print(
        f"backend {env['backend']} (keras {keras.__version__}), devices "
        f"{[d['name'] for d in env['devices']]}, {env['strategy']} x{env['replicas']}, "
        f"{env['precision']}"
    )
    print(f"training: {train_s:.1f} s, {train_s / args.epochs:.2f} s/epoch (first: compilation)")
    result = evaluate(run.path, data, split="test", output_dir=out / "evaluation")
    summary = {
        "backend": env["backend"],
        "devices": env["devices"],
        "strategy": env["strategy"],
        "precision": env["precision"],
        "epochs": args.epochs,
        "train_seconds": round(train_s, 1),
        "wall_seconds": round(wall, 1),
        "test_dice_mean_per_tile": result.summary["mean"]["dice"],
        "test_dice_pooled": _pooled_dice(run.path, data),
        "test_object_f1_mean": result.summary["mean"].get("object_f1"),
        "final_val_dice": float(run.history.get("val_dice", [float("nan")])[-1]),
    }
    summary.update(_bench_predict(run.path, args.predict_size))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def _bench_untrained(data: Path, args: argparse.Namespace, model_dir: Path) -> dict[str, float]:
    from segkit.dataset import load_manifest
    from segkit.models import ModelInfo, build_unet, save_model

    manifest = load_manifest(data)
    shape = (None, None, manifest.template.channels)
    model = build_unet(shape, 2, depth=args.depth, base_filters=args.base_filters)
    save_model(model, model_dir, ModelInfo.from_manifest(manifest))
    return _bench_predict(model_dir, args.predict_size)


def _pooled_dice(model_dir: Path, data: Path) -> float:
    """Dice over all test pixels at once (the way most MoNuSeg papers report it per image set)."""
    from segkit.dataset import load_manifest, load_pair
    from segkit.inference import predict
    from segkit.models import load_model

    model, info = load_model(model_dir)
    manifest = load_manifest(data)
    inter = total = 0
    for pair in manifest.split("test"):
        image, mask = load_pair(manifest, pair)
        pred = predict(model, image, info=info)
        inter += int(np.sum((pred == 1) & (mask == 1)))
        total += int(np.sum(pred == 1) + np.sum(mask == 1))
    return 2 * inter / total if total else 1.0


def _bench_predict(model_dir: Path, size: int = 4096) -> dict[str, float]:
    """Tiled prediction of a ``size`` x ``size`` image vs model.predict on the same tiles."""
    from segkit.inference import predict, tile_grid
    from segkit.models import load_model

    model, info = load_model(model_dir)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    tile = 256
    grid = tile_grid(image.shape[:2], (tile, tile), 0.25)
    stack = np.stack([image[r : r + tile, c : c + tile] for r, c in grid]).astype(np.float32)
    predict(model, image[:512, :512], info=info, tile_size=tile, batch_size=16)  # warm-up
    model.predict(stack[:16], batch_size=16, verbose=0)
    tiled = direct = float("inf")
    for _ in range(3):  # best of three, alternating
        t0 = time.perf_counter()
        predict(model, image, info=info, tile_size=tile, overlap=0.25, batch_size=16)
        tiled = min(tiled, time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.predict(stack, batch_size=16, verbose=0)
        direct = min(direct, time.perf_counter() - t0)
    return {
        f"predict_{size}_tiled_s": round(tiled, 2),
        f"predict_{size}_stacked_s": round(direct, 2),
        "predict_ratio": round(tiled / direct, 2),
        "tiles": len(grid),
    }


if __name__ == "__main__":
    main()
