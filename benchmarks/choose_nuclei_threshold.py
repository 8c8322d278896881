"""Choose the foreground threshold of ``segkit:nuclei`` on MoNuSeg images it was trained on.

A nucleus model's ``ModelInfo.threshold`` is its one foreground rule: a pixel is nucleus where
``1 - P(background) >= threshold``, and the watershed's markers are the pixels whose interior
probability is at least the same threshold (:func:`segkit.instances.labels_from_probabilities`).
0.5 is a default, not a measurement: a higher threshold shrinks each nucleus towards its core,
which opens the narrow bridges that merge touching nuclei.

For each threshold in ``--thresholds`` this script scores the MoNuSeg images **with polygons
that the model was trained on** (9 of the 13; the 4 of ``MONUSEG_HELD_OUT`` are the test of
``quality_cells.py`` and are never read here): AJI, PQ and F1 at IoU 0.5 of the watershed
nuclei against the rasterised polygons, per image, averaged. The threshold of the highest mean
F1@0.5 (ties: the higher AJI) wins; ``--write DIR`` puts it into ``DIR/model.json``.
``train_nuclei_model.install`` calls :func:`choose_threshold` before it installs a model.

Measured for the shipped two-stage model (``benchmarks/results/nuclei_threshold_cpu.txt``): 0.7
(F1@0.5 0.725 and AJI 0.563 on the 9 training images, against 0.706 and 0.545 at 0.5).

Usage::

    python benchmarks/choose_nuclei_threshold.py                       # segkit:nuclei
    python benchmarks/choose_nuclei_threshold.py --model RUN --write RUN
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
SCORES = ("aji", "pq", "f1")


def threshold_table(
    model: Any, thresholds: tuple[float, ...] = THRESHOLDS
) -> dict[float, dict[str, float]]:
    """Mean AJI, PQ and F1@0.5 over the training MoNuSeg polygon images, per threshold."""
    from train_nuclei_model import MONUSEG_MPP, monuseg_polygon_slides

    from segkit.evaluation import aggregated_jaccard_index, f1_at_iou, panoptic_quality
    from segkit.inference.predict import predict_proba
    from segkit.instances import labels_from_probabilities, min_area_pixels
    from segkit.instances.predict import image_pixel_um, instance_probabilities
    from segkit.models import resolve_model

    net, info = resolve_model(model)
    info = info.at_mpp(MONUSEG_MPP)
    min_area = min_area_pixels(image_pixel_um(info))
    scores: dict[float, list[tuple[float, float, float]]] = {t: [] for t in thresholds}
    for _, image, truth in monuseg_polygon_slides(held_out=False):
        probs = instance_probabilities(predict_proba(net, image, info=info), info)  # once
        for t in thresholds:
            labels = labels_from_probabilities(probs, threshold=t, min_area=min_area)
            scores[t].append((
                aggregated_jaccard_index(truth, labels),
                panoptic_quality(truth, labels)["pq"],
                f1_at_iou(truth, labels)["f1"],
            ))  # fmt: skip
    return {
        t: dict(zip(SCORES, map(float, np.mean(rows, axis=0)), strict=True))
        for t, rows in scores.items()
    }


def best_threshold(table: dict[float, dict[str, float]]) -> float:
    """The threshold of the highest mean F1@0.5, ties broken by the higher AJI."""
    return max(table, key=lambda t: (round(table[t]["f1"], 6), table[t]["aji"]))


def choose_threshold(model: Any, thresholds: tuple[float, ...] = THRESHOLDS) -> float:
    """Print the table for ``model`` and return its best threshold."""
    table = threshold_table(model, thresholds)
    print("threshold    AJI     PQ  F1@0.5   (MoNuSeg training images with polygons)")
    for t, row in table.items():
        print(f"{t:>9.2f}  {row['aji']:.3f}  {row['pq']:.3f}  {row['f1']:.3f}")
    best = best_threshold(table)
    print(f"chosen: {best}")
    return best


def write_threshold(directory: Path, threshold: float) -> None:
    """Set ``threshold`` in ``directory/model.json`` (written atomically)."""
    from segkit.files import atomic_write_text
    from segkit.models.saving import INFO_FILE, ModelInfo

    path = Path(directory) / INFO_FILE
    info = ModelInfo.from_json(path.read_text(encoding="utf-8"))
    atomic_write_text(path, info.replace(threshold=float(threshold)).to_json())


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="segkit:nuclei", help="run folder, model or segkit:NAME")
    ap.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)))
    ap.add_argument("--write", type=Path, help="folder whose model.json takes the threshold")
    args = ap.parse_args(argv)
    thresholds = tuple(float(x) for x in args.thresholds.split(",") if x.strip())
    best = choose_threshold(args.model, thresholds)
    if args.write:
        write_threshold(args.write, best)
        print(f"wrote threshold {best} into {args.write / 'model.json'}")
    return best


if __name__ == "__main__":
    main()
