"""``segkit prepare SRC DST --template T.json``: adapt a data set to a template."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from segkit.commands.inspect import add_source_arguments, source_layout_from_args

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "prepare",
        help="adapt a source data set to a template (resize, colour model, masks, split)",
        description=(
            "Write DST: train/val/test folders in the template's layout plus manifest.json. "
            "The template is segkit's JSON or the paper's form JSON. DST is built in a "
            "temporary folder and renamed into place when complete; SRC is only read."
        ),
    )
    p.add_argument("src", help="source data set folder (only read)")
    p.add_argument("dst", help="output folder (must not be inside SRC)")
    p.add_argument("--template", "-t", required=True, metavar="T.json", help="template JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing DST")
    p.add_argument("--strict", action="store_true", help="fail on a bad file instead of skipping")
    p.add_argument("--workers", type=int, help="processes (default: one per core)")
    p.add_argument("--max-pixels", type=int, default=None,
                   help="skip images with more pixels (default 89,478,485)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    add_source_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segkit.dataset.prepare import prepare_dataset
    from segkit.files import atomic_write_text, check_output_file
    from segkit.imaging import DEFAULT_MAX_PIXELS
    from segkit.template import load_template

    if args.json:
        check_output_file(args.json)
    template = load_template(args.template)
    report = prepare_dataset(
        args.src,
        args.dst,
        template,
        source_layout=source_layout_from_args(args),
        overwrite=args.overwrite,
        strict=args.strict,
        workers=args.workers,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        progress=not args.no_progress,
    )
    print(report.format())
    if args.json:
        import json

        atomic_write_text(Path(args.json), json.dumps(report.to_dict(), indent=1) + "\n")
    return 0
