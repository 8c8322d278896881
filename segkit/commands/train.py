"""``segkit train``: train a U-Net on a prepared data set and write a run folder."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from segkit.training.config import (
    LOSSES,
    MIXED_PRECISION,
    OPTIMIZERS,
    STAIN_NORMALISATION,
    TrainConfig,
)

__all__ = ["register", "config_from_args", "run"]

# Flags that map one-to-one to TrainConfig fields: (flag, field, type).
_FLAGS: tuple[tuple[str, str, Any], ...] = (
    ("--epochs", "epochs", int),
    ("--batch-size", "batch_size", int),
    ("--learning-rate", "learning_rate", float),
    ("--patch-size", "patch_size", int),
    ("--patches-per-image", "patches_per_image", int),
    ("--depth", "depth", int),
    ("--base-filters", "base_filters", int),
    ("--dropout", "dropout", float),
    ("--brightness", "brightness", float),
    ("--contrast", "contrast", float),
    ("--stain-jitter", "stain_jitter", float),
    ("--hematoxylin-fade", "hematoxylin_fade", float),
    ("--hue", "hue", float),
    ("--saturation", "saturation", float),
    ("--blur", "blur", float),
    ("--noise", "noise", float),
    ("--zoom", "zoom", float),
    ("--patience", "patience", int),
    ("--seed", "seed", int),
    ("--steps-per-epoch", "steps_per_epoch", int),
    ("--threshold", "threshold", float),
    ("--ema", "ema", float),
    ("--mlflow-uri", "mlflow_tracking_uri", str),
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a U-Net on a prepared data set; writes runs/<run-id>/",
        description=(
            "Train on the 'train' part of a prepared data set, pick the best epoch on 'val', "
            "report 'test'. Settings come from --config FILE (a config.json) and then the "
            "flags. Rerun with the same --run-id to resume an interrupted run."
        ),
    )
    p.add_argument("dataset", help="prepared data set folder (written by `segkit prepare`)")
    p.add_argument("--config", metavar="FILE", help="a TrainConfig JSON file (e.g. config.json)")
    p.add_argument("--run-id", help="run folder name (default: time stamp and hash)")
    p.add_argument("--runs-dir", default="runs", help="parent folder of runs (default: runs)")
    for flag, name, kind in _FLAGS:
        p.add_argument(flag, dest=name, type=kind, default=None, metavar=name.upper())
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--loss", choices=LOSSES)
    p.add_argument("--mixed-precision", dest="mixed_precision", choices=MIXED_PRECISION)
    p.add_argument(
        "--stain-normalisation",
        dest="stain_normalisation",
        choices=STAIN_NORMALISATION,
        help="normalise stains to a target fitted on the training images; saved with the "
        "model and applied by every prediction (default none; RGB data sets)",
    )
    p.add_argument(
        "--init-model",
        dest="init_model",
        metavar="MODEL",
        help="start from this model's weights (fine-tuning): a run folder, a .keras file or "
        "segkit:nuclei; its U-Net must match the config and the data set's classes",
    )
    p.add_argument("--no-augment", dest="augment", action="store_false", default=None)
    p.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="train without checking the data set against its manifest first",
    )
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """``--config`` (or the defaults) with the flags that were given applied on top."""
    config = TrainConfig.load(args.config) if args.config else TrainConfig()
    names = {f.name for f in fields(TrainConfig)}
    changes = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    return config.replace(**changes) if changes else config


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    from segkit.training.loop import train

    result = train(
        args.dataset, config, runs_dir=args.runs_dir, run_id=args.run_id, verify=args.verify
    )
    summary = result.summary()
    print(f"run {result.run_id}: {summary['status']}, epochs {summary['progress']}")
    for key, value in summary.items():
        if key.startswith(("val_", "test_")):
            print(f"  {key:<12} {value:.4f}")
    print(f"model:   {result.model_path}")
    print(f"figures: {result.path / 'figures'}")
    return 0
