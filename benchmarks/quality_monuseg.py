"""Quality benchmark: segkit's recipe on MoNuSeg 2018 (H&E nuclei), Dice on held-out images.

Recipe (the defaults):

1. ``segkit prepare`` the 30 MoNuSeg training images (1000 x 1000, 40x) with the template
   ``{"height": 512, "width": 512, "fit": "stretch", "color_model": "rgb",
   "split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 1}}`` (images at about 20x;
   masks are {0, 1} in the source, any non-zero value is a nucleus);
2. ``segkit train`` with ``TrainConfig(patch_size=256, patches_per_image=4, depth=4,
   base_filters=16, batch_size=4, learning_rate=1e-3, loss="bce_dice", augment=True)``,
   the best epoch picked by validation loss;
3. report Dice on the held-out ``test`` images (whole 512 x 512 images), mean per image and
   pooled over all test pixels, and the wall time.

Usage::

    python benchmarks/quality_monuseg.py --minutes 25          # CPU: stop after 25 minutes
    python benchmarks/quality_monuseg.py --epochs 100          # GPU (mixed precision is automatic)

Published U-Net results on MoNuSeg are Dice 0.76-0.82 (on the official 14-image test set, which
is not part of ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "monuseg2018-train"


def recipe_template(size: int) -> dict:
    return {
        "height": size,
        "width": size,
        "fit": "stretch",
        "color_model": "rgb",
        "split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 1},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="MoNuSeg folder")
    ap.add_argument("--work", type=Path, default=Path("bench_out/monuseg"), help="output folder")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=None, help="stop training after this")
    ap.add_argument("--size", type=int, default=512, help="prepared image size")
    ap.add_argument("--patch-size", type=int, default=256)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--base-filters", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--run-id", default=None)
    args = ap.parse_args()

    import numpy as np

    from segkit.dataset import load_manifest, load_pair, prepare_dataset
    from segkit.models import load_model
    from segkit.training import TrainConfig, train
    from segkit.training.callbacks import TimeLimit

    start = time.perf_counter()
    prepared = args.work / f"prepared{args.size}"
    prepare_dataset(args.source, prepared, recipe_template(args.size), progress=False)
    manifest = load_manifest(prepared)
    print(f"prepared {manifest.counts} in {time.perf_counter() - start:.1f} s", flush=True)

    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=1e-3,
        loss="bce_dice",
        patch_size=args.patch_size,
        patches_per_image=4,
        depth=args.depth,
        base_filters=args.base_filters,
        patience=args.patience,
        seed=1,
    )
    callbacks = [TimeLimit(args.minutes * 60.0, since=start)] if args.minutes else []
    run = train(
        prepared, config, runs_dir=args.work / "runs", run_id=args.run_id, callbacks=callbacks
    )
    train_done = time.perf_counter()

    model, info = load_model(run.path)
    per_image, inter, total = [], 0, 0
    for pair in manifest.split("test"):
        image, mask = load_pair(manifest, pair)
        proba = model.predict(image[None].astype(np.float32), verbose=0)[0, ..., 0]
        pred = proba > info.threshold
        truth = mask.astype(bool)
        i, t = int((pred & truth).sum()), int(pred.sum() + truth.sum())
        per_image.append(1.0 if t == 0 else 2 * i / t)
        inter, total = inter + i, total + t
    result = {
        "run": str(run.path),
        "epochs": run.epochs_done,
        "best_epoch": run.metrics.get("best_epoch"),
        "test_images": len(per_image),
        "dice_mean_per_image": float(np.mean(per_image)),
        "dice_pooled": 2 * inter / max(total, 1),
        "train_minutes": (train_done - start) / 60.0,
        "wall_minutes": (time.perf_counter() - start) / 60.0,
        "environment": {k: run.environment.get(k) for k in ("devices", "precision", "tensorflow")},
    }
    print(json.dumps(result, indent=2))
    dice, pooled = result["dice_mean_per_image"], result["dice_pooled"]
    print(
        f"MoNuSeg test Dice {dice:.3f} (pooled {pooled:.3f}) after {result['epochs']} epochs, "
        f"wall time {result['wall_minutes']:.1f} min"
    )


if __name__ == "__main__":
    main()
