"""Train segkit's U-Net on a prepared MoNuSeg data set on whatever Keras backend is present.

The GPU check of the project: it needs no TensorFlow (a GPU machine with JAX or PyTorch runs it
with ``KERAS_BACKEND=jax`` or ``torch``), so it feeds in-memory arrays through a small NumPy
augmentation loop instead of segkit's tf.data pipeline, and uses segkit's own U-Net, loss,
metrics, model saving, Gaussian-blended tiled prediction and evaluation. It prints

- the backend, the device and whether mixed precision was used;
- seconds per epoch and the total wall time;
- Dice on the held-out test part (mean per tile and pooled over all test pixels);
- tiled prediction of a 4096 x 4096 image vs ``model.predict`` on the same tiles stacked.

Prepare the data first, e.g.::

    segkit prepare ../shared/data/monuseg2018-train prepared/monuseg256 --template T.json

with T.json = ``{"height": 256, "width": 256, "fit": "tile", "image_type": "jpg",
"split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 1}}``, then::

    KERAS_BACKEND=jax python benchmarks/gpu_monuseg.py --data prepared/monuseg256 --epochs 100
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def load_split(manifest, part: str) -> tuple[np.ndarray, np.ndarray]:
    from segkit.dataset import load_pair

    pairs = manifest.split(part)
    images, masks = zip(*(load_pair(manifest, p) for p in pairs))
    return np.stack(images).astype(np.float32), np.stack(masks)[..., None].astype(np.float32)


def augment(images: np.ndarray, masks: np.ndarray, rng: np.random.Generator):
    """Paired flips and 90-degree rotations, plus a small brightness/contrast change."""
    k = int(rng.integers(4))
    images, masks = np.rot90(images, k, axes=(1, 2)), np.rot90(masks, k, axes=(1, 2))
    if rng.random() < 0.5:
        images, masks = images[:, :, ::-1], masks[:, :, ::-1]
    gain = rng.uniform(0.9, 1.1, size=(len(images), 1, 1, 1))
    bias = rng.uniform(-10, 10, size=(len(images), 1, 1, 1))
    images = np.clip(images * gain + bias, 0, 255)
    return np.ascontiguousarray(images, dtype=np.float32), np.ascontiguousarray(masks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a prepared MoNuSeg data set")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--base-filters", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--no-mixed-precision", action="store_true")
    ap.add_argument("--out", default="gpu_out", help="where the model and summary go")
    ap.add_argument(
        "--predict-only", action="store_true", help="skip training: time prediction only"
    )
    args = ap.parse_args()

    import keras

    from segkit.dataset import load_manifest
    from segkit.evaluation import evaluate
    from segkit.losses import get_loss
    from segkit.metrics import get_metrics
    from segkit.models import ModelInfo, build_unet, save_model

    backend = keras.backend.backend()
    devices = _devices(backend)
    on_gpu = any("gpu" in d.lower() or "cuda" in d.lower() for d in devices)
    mixed = on_gpu and not args.no_mixed_precision
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    print(f"backend {backend} {keras.__version__}, devices {devices}, mixed precision {mixed}")

    manifest = load_manifest(args.data)
    if args.predict_only:
        model = build_unet(
            (None, None, manifest.template.channels),
            2,
            depth=args.depth,
            base_filters=args.base_filters,
        )
        save_model(model, Path(args.out) / "untrained", ModelInfo.from_manifest(manifest))
        print(json.dumps(_bench_predict(Path(args.out) / "untrained"), indent=2))
        return
    x_train, y_train = load_split(manifest, "train")
    x_val, y_val = load_split(manifest, "val")
    print(f"train {len(x_train)} tiles, val {len(x_val)}, test {len(manifest.split('test'))}")

    keras.utils.set_random_seed(0)
    model = build_unet(
        x_train.shape[1:],
        manifest.template.num_classes,
        depth=args.depth,
        base_filters=args.base_filters,
    )
    print(
        f"U-Net depth {args.depth}, {args.base_filters} base filters: "
        f"{model.count_params():,} parameters; output dtype {model.output.dtype}"
    )
    steps = max(1, len(x_train) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps * args.epochs)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=get_loss("bce_dice", manifest.template.num_classes),
        metrics=get_metrics(manifest.template.num_classes),
    )
    rng = np.random.default_rng(0)

    def batches():
        while True:
            order = rng.permutation(len(x_train))
            for i in range(steps):
                idx = order[i * args.batch_size : (i + 1) * args.batch_size]
                yield augment(x_train[idx], y_train[idx], rng)

    started = time.perf_counter()
    history = model.fit(
        batches(),
        steps_per_epoch=steps,
        epochs=args.epochs,
        validation_data=(x_val, y_val),
        batch_size=args.batch_size,
        verbose=2,
    )
    train_s = time.perf_counter() - started
    print(
        f"training: {train_s:.1f} s, {train_s / args.epochs:.2f} s/epoch "
        f"(first epoch includes compilation)"
    )

    out = Path(args.out)
    keras.mixed_precision.set_global_policy("float32")
    info = ModelInfo.from_manifest(manifest)
    save_model(model, out / "model", info)
    result = evaluate(out / "model", args.data, split="test", output_dir=out / "evaluation")
    pooled = _pooled_dice(out / "model", manifest)
    summary = {
        "backend": backend,
        "devices": devices,
        "mixed_precision": mixed,
        "epochs": args.epochs,
        "train_seconds": round(train_s, 1),
        "test_dice_mean_per_tile": result.summary["mean"]["dice"],
        "test_dice_pooled": pooled,
        "test_object_f1_mean": result.summary["mean"].get("object_f1"),
        "final_val_dice": float(history.history.get("val_dice", [float("nan")])[-1]),
    }
    summary.update(_bench_predict(out / "model"))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def _devices(backend: str) -> list[str]:
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(0)] if torch.cuda.is_available() else ["cpu"]
    import tensorflow as tf

    return [d.name for d in tf.config.list_logical_devices()]


def _pooled_dice(model_dir: Path, manifest) -> float:
    """Dice over all test pixels at once (the way most MoNuSeg papers report it per image set)."""
    from segkit.dataset import load_pair
    from segkit.inference import predict
    from segkit.models import load_model

    model, info = load_model(model_dir)
    inter = total = 0
    for pair in manifest.split("test"):
        image, mask = load_pair(manifest, pair)
        pred = predict(model, image, info=info)
        inter += int(np.sum((pred == 1) & (mask == 1)))
        total += int(np.sum(pred == 1) + np.sum(mask == 1))
    return 2 * inter / total if total else 1.0


def _bench_predict(model_dir: Path) -> dict[str, float]:
    """Tiled prediction of a 4096 x 4096 image vs model.predict on the same tiles stacked."""
    from segkit.inference import predict, tile_grid
    from segkit.models import load_model

    model, info = load_model(model_dir)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(4096, 4096, 3), dtype=np.uint8)
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
        "predict_4096_tiled_s": round(tiled, 2),
        "predict_4096_stacked_s": round(direct, 2),
        "predict_ratio": round(tiled / direct, 2),
        "tiles": len(grid),
    }


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
