"""``segkit evaluate``: score a run or model on a split part of a prepared data set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="per-image and object-level scores of a run or model on a prepared data set",
        description=(
            "Predicts every image of a split part of a prepared data set and writes "
            "per_image.csv (Dice, IoU, precision, recall, HD95 / Hausdorff / ASSD in pixels, "
            "object-level precision/recall/F1) "
            "and summary.json."
        ),
    )
    p.add_argument(
        "model",
        metavar="RUN_OR_MODEL",
        help="a run folder, model folder, .keras or exported .onnx file",
    )
    p.add_argument("dataset", metavar="DATASET", help="a data set written by `segkit prepare`")
    p.add_argument("--split", default="test", choices=("test", "val", "train"))
    p.add_argument(
        "--output",
        "-o",
        metavar="DIR",
        help="where to write the results (default: RUN_OR_MODEL/evaluation/SPLIT)",
    )
    p.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    p.add_argument("--tile-size", type=int, help="sliding-window tile (default: training size)")
    p.add_argument("--no-objects", action="store_true", help="skip the object-level scores")
    p.add_argument(
        "--save-predictions", action="store_true", help="write predicted masks to DIR/predictions"
    )
    p.add_argument(
        "--instances",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="separate objects and add AJI, PQ, F1 at IoU 0.5 and point detection scores "
        "(default: when the data set has instance labels or points)",
    )
    p.add_argument(
        "--point-radius",
        type=float,
        default=8.0,
        help="a nucleus matches an annotated point within this many pixels (default 8)",
    )
    p.set_defaults(func=run)


def _default_output(model: Path, split: str) -> Path:
    folder = model if model.is_dir() else model.parent
    return folder / "evaluation" / split


def run(args: argparse.Namespace) -> int:
    from segkit.evaluation import evaluate

    model = Path(args.model)
    out = Path(args.output) if args.output else _default_output(model, args.split)
    result = evaluate(
        model,
        args.dataset,
        args.split,
        output_dir=out,
        objects=not args.no_objects,
        tile_size=args.tile_size,
        tta=args.tta,
        save_predictions=args.save_predictions,
        instances=args.instances,
        point_radius=args.point_radius,
    )
    mean = result.summary["mean"]
    print(f"{result.summary['count']} {args.split} images of {result.summary['dataset']}")
    keys = ("dice", "iou", "precision", "recall", "object_f1", "aji", "pq", "f1_at_0.5",
            "point_f1")  # fmt: skip
    for key in keys:
        if key in mean:
            median = result.summary["median"][key]
            print(f"  {key:<10} mean {mean[key]:.4f}  median {median:.4f}")
    if "hd95" in mean:
        print(f"  hd95       mean {mean['hd95']:.2f} px  assd mean {mean['assd']:.2f} px"
              + (f"  (undefined on {n} image{'s' * (n != 1)}: one mask empty)"
                 if (n := result.summary["distances_undefined"]) else ""))  # fmt: skip
    if "points" in result.summary:
        pts = result.summary["points"]
        print(f"  points     pooled precision {pts['precision']:.4f} recall {pts['recall']:.4f} "
              f"F1 {pts['f1']:.4f}")  # fmt: skip
    if not result.summary["same_dataset"]:
        print("  note: the model was trained on another data set (fingerprints differ)")
    print(f"wrote {out / 'per_image.csv'} and {out / 'summary.json'}")
    return 0
