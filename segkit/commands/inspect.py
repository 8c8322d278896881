"""``segkit inspect SRC``: report the pairs, problems and mask values of a source data set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from segkit.dataset.discover import SOURCE_LAYOUTS, SourceLayout

__all__ = ["add_source_arguments", "source_layout_from_args", "register", "run"]


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """Flags that say how to read a source data set (shared with ``segkit prepare``)."""
    g = p.add_argument_group("source layout (default: detected)")
    g.add_argument("--source-layout", choices=SOURCE_LAYOUTS, default="auto")
    g.add_argument("--mask-keyword", dest="source_keyword", metavar="KEYWORD",
                   help="keyword that marks a mask file in the source (default: _mask or the "
                   "template's)")  # fmt: skip
    g.add_argument("--image-dir", metavar="DIR", help="image folder, relative to SRC")
    g.add_argument("--mask-dir", metavar="DIR", help="mask folder, relative to SRC")
    g.add_argument(
        "--image-pattern",
        metavar="REGEX",
        help=r"regex on relative paths; its group is the key, e.g. 'img(.*)\.tif'",
    )
    g.add_argument("--mask-pattern", metavar="REGEX", help=r"e.g. 'mask(.*)\.tif'")
    g.add_argument(
        "--annotations",
        metavar="DIR",
        help="folder of annotation files (NAME.xml, NAME.geojson, NAME.json) paired by stem "
        "with the images found, e.g. the MoNuSeg XML; their polygons give instance labels",
    )
    g.add_argument(
        "--source-mpp",
        type=float,
        metavar="UM",
        help="microns per pixel of source images whose files do not say (MoNuSeg: 0.2527); "
        "slide metadata and Aperio XML MicronsPerPixel come first",
    )
    g.add_argument(
        "--point-labels",
        type=_point_labels,
        metavar="ID=NAME,...",
        help="class name of each label_id in point files, e.g. "
        "'1=Positive,2=Negative,3=Lymphocyte' (the default, SHIDC-B-Ki-67's)",
    )
    g.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="also follow links whose target lies outside SRC (by default they are listed)",
    )


def _point_labels(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for item in text.split(","):
        key, sep, name = item.partition("=")
        if not sep or not key.strip().isdigit() or not name.strip():
            raise argparse.ArgumentTypeError(
                f"{item.strip()!r} is not ID=NAME (e.g. '1=Positive,2=Negative')"
            )
        out[int(key)] = name.strip()
    return out


def source_layout_from_args(args: argparse.Namespace) -> SourceLayout:
    """The :class:`SourceLayout` that the flags of :func:`add_source_arguments` describe."""
    return SourceLayout(
        layout=args.source_layout,
        mask_keyword=args.source_keyword,
        image_dir=args.image_dir,
        mask_dir=args.mask_dir,
        image_pattern=args.image_pattern,
        mask_pattern=args.mask_pattern,
        follow_symlinks=args.follow_symlinks,
        annotations=str(Path(args.annotations).resolve()) if args.annotations else None,
        mpp=args.source_mpp,
        point_labels=args.point_labels,
    )


def register(sub: Any) -> None:
    p = sub.add_parser(
        "inspect",
        help="report the image/mask pairs, problems and mask values of a source data set",
        description=(
            "Find image/mask pairs in SRC (separate folders, keyword suffix, nnU-Net or Kaggle "
            "layout), decode every file and report what a `segkit prepare` would meet."
        ),
    )
    p.add_argument("src", help="source data set folder (only read)")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.add_argument("--workers", type=int, help="processes (default: one per core)")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger images")
    add_source_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segkit.dataset.inspect import inspect_dataset
    from segkit.files import atomic_write_text, check_output_file
    from segkit.imaging import DEFAULT_MAX_PIXELS

    if args.json:
        check_output_file(args.json)
    report = inspect_dataset(
        args.src,
        source_layout_from_args(args),
        mask_keyword=args.source_keyword or "_mask",
        workers=args.workers,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
    )
    print(report.format())
    if args.json:
        atomic_write_text(Path(args.json), report.to_json())
        print(f"wrote {args.json}", file=sys.stderr)
    return 0 if report.n_pairs else 1
