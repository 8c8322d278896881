"""``segkit template``: create a template from flags, or validate and print an existing one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from segkit.template import (
    COLOR_MODELS,
    FIT_MODES,
    IMAGE_TYPES,
    LAYOUTS,
    TARGETS,
    DatasetTemplate,
    load_template,
    save_template,
)

__all__ = ["register", "template_from_args", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "template",
        help="create a dataset template from flags, or validate and print one",
        description=(
            "Without --check: build a template from the flags and write it to OUTPUT "
            "(or print it). With --check FILE: validate FILE (segkit's schema or the "
            "paper's form JSON) and print it in segkit's schema."
        ),
    )
    p.add_argument("output", nargs="?", help="where to write the template JSON (default: print)")
    p.add_argument("--check", metavar="FILE", help="validate and print an existing template")
    p.add_argument("--from", dest="base", metavar="FILE", help="start from this template")
    p.add_argument("--height", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--size", type=int, help="height and width at once")
    p.add_argument("--image-type", choices=IMAGE_TYPES)
    p.add_argument("--color-model", choices=COLOR_MODELS)
    p.add_argument("--layout", choices=LAYOUTS)
    p.add_argument("--mask-keyword")
    p.add_argument("--fit", choices=FIT_MODES)
    p.add_argument(
        "--target", choices=TARGETS, help="semantic (a class per pixel) or instances (nuclei)"
    )
    p.add_argument(
        "--mpp",
        type=float,
        metavar="UM",
        help="microns per pixel of the prepared images (sources are rescaled to it, then "
        "tiled; implies --fit tile)",
    )
    p.add_argument("--classes", nargs="+", metavar="NAME", help="class names, background first")
    p.add_argument(
        "--map",
        nargs="+",
        metavar="VALUE=CLASS",
        help='source mask value or colour to class index, e.g. "0=1" or "#ff0000=2"',
    )
    p.add_argument("--split", nargs=3, type=float, metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--seed", type=int)
    p.add_argument("--group-pattern", metavar="REGEX")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    p.set_defaults(func=run)


def template_from_args(args: argparse.Namespace) -> DatasetTemplate:
    """Apply the flags in ``args`` to the default (or ``--from``) template."""
    base = load_template(args.base) if args.base else DatasetTemplate()
    data = base.to_dict()
    if args.size is not None:
        data["height"] = data["width"] = args.size
    for key in ("height", "width", "image_type", "color_model", "layout", "mask_keyword", "fit",
                "target"):  # fmt: skip
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    if args.mpp is not None:
        data["mpp"] = args.mpp
        if args.fit is None:
            data["fit"] = "tile"
    if args.classes:
        data["classes"]["names"] = list(args.classes)
    if args.map:
        mapping = {}
        for item in args.map:
            if "=" not in item:
                raise ValueError(f"--map {item!r}: expected VALUE=CLASS, e.g. 255=1")
            key, _, idx = item.rpartition("=")
            mapping[key] = int(idx)
        data["classes"]["mapping"] = mapping
    if args.split:
        data["split"].update(train=args.split[0], val=args.split[1], test=args.split[2])
    if args.seed is not None:
        data["split"]["seed"] = args.seed
    if args.group_pattern is not None:
        data["split"]["group_pattern"] = args.group_pattern
    return DatasetTemplate.from_dict(data)


def run(args: argparse.Namespace) -> int:
    if args.check:
        template = load_template(args.check)
        sys.stdout.write(template.to_json())
        print(f"{args.check}: valid template", file=sys.stderr)
        return 0
    template = template_from_args(args)
    if args.output:
        out = Path(args.output)
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
        save_template(template, out)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(json.dumps(template.to_dict(), indent=2) + "\n")
    return 0
