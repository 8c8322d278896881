"""``segkit ki67 IMAGE... --output OUT``: count and classify nuclei, the Ki-67 index per image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the ``ki67`` subcommand to ``sub``."""
    p = sub.add_parser(
        "ki67",
        help="Ki-67 scoring: nuclei counted and classified positive/negative, the index",
        description=(
            "Find the nuclei of each Ki-67 IHC image with a segmentation model (default the "
            "bundled segkit:nuclei), measure their hematoxylin and DAB optical density, class "
            "them Positive or Negative and write OUT/summary.csv (index, 95%% Wilson interval, "
            "H-score, a warning under 500 cells), OUT/cells.csv and per image NAME.geojson "
            "(QuPath detections), NAME_overlay.png and NAME_instances.tif. A whole slide (SVS, "
            "NDPI, pyramidal TIFF...) is streamed in bands: NAME.geojson, NAME_ki67_heatmap.png, "
            "NAME_tissue.png, and its summary row adds the hot spot (the smallest square of at "
            "least 500 cells with the highest index)."
        ),
    )
    p.add_argument("images", nargs="+", help="image files, whole slides or folders of images")
    p.add_argument("--output", "-o", required=True, help="output folder")
    p.add_argument(
        "--model",
        default="segkit:nuclei",
        help="a run folder, model folder, .keras or exported .onnx file, segkit:nuclei (default), "
        "or 'classical' "
        "for the model-free colour-deconvolution detector",
    )
    p.add_argument(
        "--classifier",
        choices=("threshold", "learned"),
        default="threshold",
        help="threshold: mean DAB OD >= --dab-threshold (QuPath's rule); learned: the model's "
        "negative/positive classes",
    )
    p.add_argument(
        "--dab-threshold",
        type=float,
        default=0.2,
        help="DAB optical density threshold, QuPath units (default 0.2)",
    )
    p.add_argument(
        "--cell-filter",
        metavar="PATH|segkit:NAME",
        help="count only the nuclei this cell filter (a JSON object classifier, e.g. "
        "segkit:shidc-breast) classes as tumour cells; default: every nucleus counts",
    )
    p.add_argument("--stains", default="H-DAB", help="stain vectors preset (default H-DAB)")
    p.add_argument(
        "--mpp",
        type=float,
        help="microns per pixel of the images: areas in square microns, and the images are "
        "rescaled to the model's microns per pixel (the bundled model's is in its card)",
    )
    p.add_argument("--tile-size", type=int, help="sliding-window tile (default: training size)")
    p.add_argument("--max-pixels", type=int, help="refuse images with more pixels")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score the images; exit 0 when every image was scored."""
    from segkit.commands.predict import _expand
    from segkit.ki67.pipeline import score_ki67

    images = _expand(args.images)

    def report(name: str, score: Any) -> None:
        s = score.summary
        line = (
            f"{name}: {s.positive} positive, {s.negative} negative, Ki-67 index "
            f"{s.ki67_index:.1f}% (95% CI {s.ki67_ci_low:.1f}-{s.ki67_ci_high:.1f})"
        )
        hot = getattr(score, "hotspot", None)
        if hot is not None:
            line += (
                f"; hot spot {hot.ki67_index:.1f}% of {hot.cells} cells at "
                f"({hot.x_um:.0f}, {hot.y_um:.0f}) um, {hot.size_um:.0f} um square"
            )
        print(line + (f"; {s.warning}" if s.warning else ""), flush=True)

    score_ki67(
        images,
        Path(args.output),
        args.model,
        classifier=args.classifier,
        threshold=args.dab_threshold,
        stains=args.stains,
        mpp=args.mpp,
        tile_size=args.tile_size,
        max_pixels=args.max_pixels,
        progress=report,
        cell_filter=args.cell_filter,
    )
    print(f"wrote {Path(args.output) / 'summary.csv'} and {Path(args.output) / 'cells.csv'}",
          file=sys.stderr)  # fmt: skip
    return 0
