"""Quality benchmark: segkit's recipe on MoNuSeg 2018 (H&E nuclei), Dice on unseen organs.

Protocol ``organs`` (the default): leave-one-organ-out over the 30 MoNuSeg training images.
The organ of an image is its TCGA tissue-source site (``benchmarks/monuseg_organs.py`` holds
the table: 18, 21, 38, 49, 50 lung; A7, AR, E2 breast; AY, NH colon; B0, HE kidney; CH, G9
prostate; DK, G2 bladder; KB liver; RD stomach; a file that does not map stops the run).
For each fold the held-out organ's images are left out of ``prepare``, a model is trained on
the other organs and the held-out images are scored at their own size (1000 x 1000, 40x)
through ``segkit.predict_proba``, with and without flip test-time augmentation (``tta``).
``--folds lung,breast,colon+liver`` runs some folds (``+`` holds organs out together).

Recipe of a fold:

1. ``prepare`` with the template ``{"height": 512, "width": 512, "fit": "tile", "mpp": 0.5,
   "color_model": "rgb", "split": {"train": 0.9, "val": 0.1, "test": 0, "seed": 1}}`` and
   ``SourceLayout(mpp=0.2527)`` (MoNuSeg's scale, from its Aperio XML: 40x). Every image is
   resampled to 0.5 µm/px (about 20x: 505 x 505 pixels, one zero-padded 512 tile); the model
   is trained and predicts at that one physical scale, and ``ModelInfo.mpp`` is 0.5, so
   ``info.at_mpp(image_mpp)`` brings an image of any scanner to it. 0.5 µm/px rather than
   the native 0.25: a quarter of the pixels per image (what a 2-core CPU can train in
   minutes) while nuclei stay 10-20 pixels across, and 20x is the scale most H&E nuclei
   models and slides share. The old recipe stretched 1000 x 1000 to 512 x 512, which is
   nearly the same scale (0.49 µm/px) but recorded none. Measured: at 0.25 µm/px (``--mpp
   0.25``) the same 6 minutes a fold gave 4-5 epochs and a worse prostate fold (0.594 against
   0.685; ``benchmarks/results/quality_monuseg_recipe_cpu.txt``).
2. ``train`` with ``TrainConfig(patch_size=256, patches_per_image=4, depth=4,
   base_filters=16, batch_size=4, learning_rate=1e-3, loss="bce_dice", augment=True,
   stain_jitter=0.3)`` (flips, 90-degree turns, brightness/contrast 0.1 and H&E stain
   jitter: each stain's amount scaled by 0.7-1.3 and shifted by up to 0.075 OD; 0.3 rather
   than 0.1 raised the held-out Dice from 0.735 to 0.769), the best epoch picked by
   validation loss on the training organs' val images,
   ``--minutes-per-fold`` of wall time per fold (prepare included): 37-41 epochs in 6
   minutes on 2 cores with TensorFlow's oneDNN kernels (segkit's default; 18-23 with
   ``TF_ENABLE_ONEDNN_OPTS=0``, Dice 0.769 against 0.779). Reinhard stain normalisation
   (``stain_normalisation="reinhard"``: the target fitted on the fold's training images, saved
   with the model, applied by every predictor) is the default since it gained on every seed
   measured (all five folds at a fixed 32 epochs, seed 2: 0.789 against 0.771 per image, worst
   image 0.701 against 0.618); ``--stain-normalisation none`` gives the recipe of the README's
   earlier rows. ``--lr-schedule cosine`` lowers
   the learning rate along a cosine over the fold's budget; ``--hue``, ``--saturation``,
   ``--blur``, ``--noise`` and ``--zoom`` add those augmentations (all measured in the README);
   ``--upsampling bilinear`` and ``--dropout`` change the U-Net, ``--patches-per-image`` the
   patches an image gives an epoch (``benchmarks/gpu_check.sh organs`` uses 8).
3. Dice of every held-out image at 40x; per organ the mean per image and the Dice pooled
   over its pixels; the mean over organs, the worst organ and the worst image.

Protocol ``split``: the earlier benchmark (README's old row): the 30 images stretched to
512 x 512, a random 70/10/20 split by image (seed 1), no stain jitter, Dice of the 6 test
images at 512 x 512.

Usage::

    python benchmarks/quality_monuseg.py --minutes-per-fold 4             # all 8 organs
    python benchmarks/quality_monuseg.py --folds lung,kidney --json out.json
    python benchmarks/quality_monuseg.py --protocol split --minutes 22    # the old protocol

Published U-Net results on MoNuSeg are Dice 0.76-0.82 on the official 14-image test set
(7 organs, 2 of them not in the training set; not part of ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "monuseg2018-train"
MONUSEG_MPP = 0.2527  # µm per pixel, the MicronsPerPixel of MoNuSeg's Aperio XML files

from monuseg_organs import (  # noqa: E402
    OrganError,
    dice,
    images_by_organ,
    parse_folds,
    stem_pattern,
    summarise,
)


def recipe_template(size: int) -> dict:
    """The ``split`` protocol's template (the old recipe)."""
    return {
        "height": size,
        "width": size,
        "fit": "stretch",
        "color_model": "rgb",
        "split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 1},
    }


def organs_template(mpp: float, tile: int, val: float = 0.1) -> dict:
    """The ``organs`` protocol's template: tiles at ``mpp``, a fraction ``val`` of the training
    organs' images for val (0: all of them are trained on, the best epoch by training loss)."""
    return {
        "height": tile,
        "width": tile,
        "fit": "tile",
        "mpp": mpp,
        "color_model": "rgb",
        "split": {"train": round(1.0 - val, 6), "val": val, "test": 0.0, "seed": 1},
    }


def _config(args: argparse.Namespace, stain_jitter: float) -> Any:
    from segkit.training import TrainConfig

    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        loss="bce_dice",
        patch_size=args.patch_size,
        patches_per_image=args.patches_per_image,
        depth=args.depth,
        base_filters=args.base_filters,
        upsampling=args.upsampling,
        dropout=args.dropout,
        patience=args.patience,
        stain_jitter=stain_jitter,
        hematoxylin_fade=args.hematoxylin_fade,
        hue=args.hue,
        saturation=args.saturation,
        blur=args.blur,
        noise=args.noise,
        zoom=args.zoom,
        ema=args.ema,
        stain_normalisation=args.stain_normalisation,
        mixed_precision=args.mixed_precision,
        sample_figures=0,
        seed=args.seed,
    )


def run_split(args: argparse.Namespace) -> dict:
    """The old protocol: one random split by image, Dice at the prepared size."""
    import numpy as np

    from segkit.dataset import load_manifest, load_pair, prepare_dataset
    from segkit.models import load_model
    from segkit.training import train
    from segkit.training.callbacks import TimeLimit

    start = time.perf_counter()
    prepared = args.work / f"prepared{args.size}"
    prepare_dataset(args.source, prepared, recipe_template(args.size), progress=False)
    manifest = load_manifest(prepared)
    print(f"prepared {manifest.counts} in {time.perf_counter() - start:.1f} s", flush=True)
    config = _config(args, 0.0).replace(sample_figures=4, stain_normalisation="none")
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
        d, i, t = dice(proba > info.threshold, mask)
        per_image.append(d)
        inter, total = inter + i, total + t
    result = {
        "protocol": "split",
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
    print(
        f"MoNuSeg test Dice {result['dice_mean_per_image']:.3f} "
        f"(pooled {result['dice_pooled']:.3f}) after {result['epochs']} epochs, "
        f"wall time {result['wall_minutes']:.1f} min"
    )
    return result


def _score_fold(run_paths: list[Path], source: Path, stems: list[str], organ: dict) -> list[dict]:
    """Dice of each held-out image at its own size, plain and with flip TTA.

    With several runs (an ensemble) their foreground probabilities are averaged.
    """
    from segkit.imaging import read_image, read_mask
    from segkit.inference import predict_proba
    from segkit.models import load_model

    models = [load_model(path) for path in run_paths]
    threshold = models[0][1].threshold
    rows = []
    for stem in stems:
        image = read_image(source / "Tissue_Images" / f"{stem}.tif")
        truth = read_mask(source / "Binary_masks" / f"{stem}.png") > 0
        row: dict[str, Any] = {"image": stem, "organ": organ[stem]}
        for key, tta in (("dice", False), ("dice_tta", True)):
            proba = sum(
                predict_proba(model, image, info=info.at_mpp(MONUSEG_MPP), tta=tta)
                for model, info in models
            ) / len(models)
            d, i, t = dice(proba >= threshold, truth)
            row.update({key: d, f"{key}_inter": i, f"{key}_total": t})
        rows.append(row)
        print(f"  {stem} ({row['organ']}): Dice {row['dice']:.3f}, TTA {row['dice_tta']:.3f}")
    return rows


def run_organs(args: argparse.Namespace) -> dict:
    """Leave-one-organ-out: train without the held-out organ(s), score their images."""
    from segkit.dataset import SourceLayout, prepare_dataset
    from segkit.models import load_model
    from segkit.training import train
    from segkit.training.callbacks import TimeLimit

    start = time.perf_counter()
    try:
        groups = images_by_organ(args.source)
        folds = parse_folds(args.folds, groups)
    except OrganError as exc:
        raise SystemExit(f"quality_monuseg: {exc}") from None
    organ = {stem: o for o, stems in groups.items() for stem in stems}
    print("organs: " + ", ".join(f"{o} {len(s)}" for o, s in groups.items()), flush=True)
    rows: list[dict] = []
    fold_records = []
    for held in folds:
        fold_start = time.perf_counter()
        name = "+".join(held)
        test = [s for o in held for s in groups[o]]
        train_stems = [s for s in organ if organ[s] not in held]
        layout = SourceLayout(
            layout="pattern",
            image_pattern=stem_pattern(train_stems, "Tissue_Images", ".tif"),
            mask_pattern=stem_pattern(train_stems, "Binary_masks", ".png"),
            mpp=MONUSEG_MPP,
        )
        prepared = args.work / f"fold-{name}"
        template = organs_template(args.mpp, args.tile, args.val_fraction)
        prepare_dataset(
            args.source, prepared, template, source_layout=layout, overwrite=True,
            progress=False,
        )  # fmt: skip
        anneal = args.learning_rate if args.lr_schedule == "cosine" else None
        budget = args.minutes_per_fold * 60.0 / args.ensemble
        runs = []
        for member in range(args.ensemble):
            since = fold_start if member == 0 else time.perf_counter()
            callbacks = [TimeLimit(budget, since=since, anneal_from=anneal)]
            seed = args.seed + member
            config = _config(args, args.stain_jitter).replace(seed=seed)
            run_id = f"fold-{name}" if member == 0 else f"fold-{name}-seed{seed}"
            runs.append(train(
                prepared, config, runs_dir=args.work / "runs", run_id=run_id,
                callbacks=callbacks,
            ))  # fmt: skip
        trained = time.perf_counter()
        print(
            f"fold {name}: trained on {len(train_stems)} images, "
            + " + ".join(
                f"{r.epochs_done} epochs (best {r.metrics.get('best_epoch')})" for r in runs
            )
            + f" in {(trained - fold_start) / 60:.1f} min",
            flush=True,
        )
        part = _score_fold([r.path for r in runs], args.source, test, organ)
        rows += part
        run = runs[0]
        fold_records.append({
            "held_out": list(held), "train_images": len(train_stems), "test_images": len(test),
            "epochs": run.epochs_done, "best_epoch": run.metrics.get("best_epoch"),
            "member_epochs": [r.epochs_done for r in runs],
            "model_mpp": load_model(run.path)[1].mpp,
            "train_minutes": (trained - fold_start) / 60.0,
            "score_minutes": (time.perf_counter() - trained) / 60.0,
        })  # fmt: skip
    result = {
        "protocol": "organs",
        "command": "python benchmarks/quality_monuseg.py " + " ".join(sys.argv[1:]),
        "recipe": {
            "template": organs_template(args.mpp, args.tile, args.val_fraction),
            "source_mpp": MONUSEG_MPP,
            "train_config": _config(args, args.stain_jitter).to_dict(),
            "minutes_per_fold": args.minutes_per_fold,
            "ensemble": args.ensemble,
        },
        "folds": fold_records,
        "plain": summarise(rows, "dice"),
        "tta": summarise(rows, "dice_tta"),
        "images": rows,
        "wall_minutes": (time.perf_counter() - start) / 60.0,
        "environment": {"cpus": os.cpu_count()},
    }
    print_table(result)
    return result


def print_table(result: dict) -> None:
    """The per-organ table and the overall figures, plain and with TTA."""
    plain, tta = result["plain"], result["tta"]
    print(
        f"\n{'organ':<10} {'images':>6} {'Dice/img':>9} {'pooled':>7} {'TTA/img':>8} {'pooled':>7}"
    )
    for organ, p in plain["per_organ"].items():
        t = tta["per_organ"][organ]
        print(
            f"{organ:<10} {p['images']:>6} {p['dice_mean_per_image']:>9.3f} "
            f"{p['dice_pooled']:>7.3f} {t['dice_mean_per_image']:>8.3f} {t['dice_pooled']:>7.3f}"
        )
    for label, s in (("plain", plain), ("TTA", tta)):
        print(
            f"{label}: {s['images']} images, mean per image {s['dice_mean_per_image']:.3f}, "
            f"pooled {s['dice_pooled']:.3f}, mean over organs {s['dice_mean_over_organs']:.3f}; "
            f"worst organ {s['worst_organ']['organ']} {s['worst_organ']['dice_mean_per_image']:.3f}"
            f", worst image {s['worst_image']['image']} ({s['worst_image']['organ']}) "
            f"{s['worst_image']['dice']:.3f}"
        )
    print(f"wall time {result['wall_minutes']:.1f} min")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocol", choices=("organs", "split"), default="organs")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="MoNuSeg folder")
    ap.add_argument("--work", type=Path, default=Path("bench_out/monuseg"), help="output folder")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--patch-size", type=int, default=256)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--base-filters", type=int, default=16)
    ap.add_argument("--upsampling", choices=("transpose", "bilinear"), default="transpose")
    ap.add_argument("--dropout", type=float, default=0.0, help="dropout rate of the U-Net")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--patches-per-image", type=int, default=4, help="patches of an image an epoch")
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--mixed-precision", choices=("auto", "on", "off", "bf16"), default="auto")
    ap.add_argument("--patience", type=int, default=20)
    organs = ap.add_argument_group("protocol organs")
    organs.add_argument("--folds", default=None, help="e.g. lung,breast,colon+liver (all organs)")
    organs.add_argument("--minutes-per-fold", type=float, default=4.0)
    organs.add_argument("--mpp", type=float, default=0.5, help="µm per pixel of the model")
    organs.add_argument("--tile", type=int, default=512, help="prepared tile size")
    organs.add_argument("--stain-jitter", type=float, default=0.3)
    organs.add_argument(
        "--hematoxylin-fade", type=float, default=0.0, help="largest fade of the hematoxylin"
    )
    organs.add_argument("--hue", type=float, default=0.0, help="largest hue turn")
    organs.add_argument("--saturation", type=float, default=0.0, help="largest saturation change")
    organs.add_argument("--blur", type=float, default=0.0, help="largest blur sigma, pixels")
    organs.add_argument("--noise", type=float, default=0.0, help="largest noise std / 255")
    organs.add_argument(
        "--zoom", type=float, default=0.0,
        help="scale augmentation: patches magnified 1/(1+zoom)..1+zoom (0.25: 0.8-1.25x)",
    )  # fmt: skip
    organs.add_argument(
        "--ema", type=float, default=0.0,
        help="weight averaging: momentum of the moving average that is validated and kept",
    )  # fmt: skip
    organs.add_argument(
        "--stain-normalisation", choices=("none", "macenko", "reinhard"), default="reinhard",
        help="fitted on the training organs, saved with the model, applied when predicting "
        "(default reinhard; none: the recipe of the README's earlier rows)",
    )  # fmt: skip
    organs.add_argument(
        "--val-fraction", type=float, default=0.1,
        help="of the training organs' images, for val (0: train on all, best by training loss)",
    )  # fmt: skip
    organs.add_argument(
        "--ensemble", type=int, default=1,
        help="models per fold (seeds S..S+N-1) sharing --minutes-per-fold; probabilities averaged",
    )  # fmt: skip
    organs.add_argument(
        "--seed", type=int, default=1,
        help="S: seed of the weights and augmentation (the val split keeps seed 1); a fold "
        "trained with the seed, time and epoch of another run reproduces it",
    )  # fmt: skip
    organs.add_argument(
        "--lr-schedule", choices=("constant", "cosine"), default="constant",
        help="cosine: the learning rate falls along a cosine over the fold's time budget",
    )  # fmt: skip
    split = ap.add_argument_group("protocol split (the old benchmark)")
    split.add_argument("--minutes", type=float, default=None, help="stop training after this")
    split.add_argument("--size", type=int, default=512, help="prepared image size")
    split.add_argument("--run-id", default=None)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = _arguments(argv)
    result = run_split(args) if args.protocol == "split" else run_organs(args)
    if args.json is not None:
        from segkit.files import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
