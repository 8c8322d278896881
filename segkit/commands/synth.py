"""``segkit synth``: write the built-in synthetic IHC-like data set to a folder."""

from __future__ import annotations

import argparse
from typing import Any

from segkit.synthetic import make_synthetic_dataset

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="write a synthetic IHC-like data set (brown and blue nuclei) with masks",
    )
    p.add_argument("output", help="folder to create")
    p.add_argument("-n", type=int, default=24, help="number of image/mask pairs (default 24)")
    p.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("HEIGHT", "WIDTH"))
    p.add_argument("--layout", choices=("separate", "suffix"), default="separate")
    p.add_argument(
        "--mask-encoding", choices=("binary", "binary01", "instance", "classes"), default="binary"
    )
    p.add_argument("--image-type", choices=("png", "jpg", "bmp", "tif"), default="png")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = make_synthetic_dataset(
        args.output,
        args.n,
        height=args.size[0],
        width=args.size[1],
        layout=args.layout,
        mask_encoding=args.mask_encoding,
        image_type=args.image_type,
        seed=args.seed,
    )
    print(f"wrote {args.n} synthetic pairs to {out}")
    return 0
