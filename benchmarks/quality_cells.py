"""Quality of cells, side by side: nuclei found, Ki-67 index, separated instances.

Ki-67 methods side by side on data the bundled model never saw (SHIDC patient p2, glioma
patient 1329941, 4 MoNuSeg slides); SHIDC patient p1 is training data of the model's second
stage (``finetune_nuclei_model.py``) and of the choices below:

- (a) ``classical``: colour deconvolution + watershed in the style of QuPath's positive cell
  detection (:func:`segkit.ki67.score_ki67_classical`, the parameters of
  ``benchmarks/quality_ki67.py``), DAB threshold 0.2;
- (b) ``model + DAB``: the bundled ``segkit:nuclei`` finds the nuclei, the DAB threshold 0.2
  classes them;
- (c) ``model classes``: the bundled model's own negative / positive classes;
- (d) ``model + DAB (p1)``: as (b) at the scale and DAB threshold chosen on SHIDC patient p1;
- (e) ``model + filter``: as (d), and the shipped cell filter ``segkit:shidc-breast``
  (trained on p1 only, ``benchmarks/train_cell_filter.py``) keeps the tumour nuclei.

Held-out protocol for SHIDC: everything in (d) and (e) (scale, DAB threshold, the filter) was
chosen or trained on patient **p1**; patient **p2** is the test. Rows are given per patient and
for all 26 images (p1 is then training data, and labelled so). F1 counts every point (tumour
cells and lymphocytes) against every nucleus; ``F1 tumour`` counts the tumour points (1, 2)
against the nuclei counted in the index (all of them for (a)-(d), the kept ones for (e)).
``P`` and ``R`` are the detection's precision (nuclei that match a point) and recall (points
that match a nucleus), means over the images: SHIDC points only part of each image's cells,
so its precision is a lower bound, while a low recall is nuclei the model missed.

Data and truth:

- ``ki67-shidc-sample``, all 26 images (one point per cell; lymphocytes (3) are excluded from
  the truth index, as the guidelines ask, but they are nuclei, so every point counts for
  detection). The images' magnification is not stated; their nuclei are 40-60 px across, so
  they are read as 0.12 µm per pixel (``--shidc-mpp``). Detection: a nucleus matches a point
  within 10 px (one-to-one; ``--shidc-radius``: a click anywhere on a 50 px nucleus can lie
  20 px from its centroid).
- ``ki67-glioma-fields``, patient 1329941 (held out of the bundled model's training): truth
  is the Labelbox polygons (Positive / Negative); detection radius 20 px (nuclei ~68 px); the
  row ``model + filter`` applies the SHIDC cell filter there with DAB 0.2 (a transfer check). The
  classical detector reads the fields at 1/4 size with its glioma settings
  (``benchmarks/quality_ki67.py``); the model at 0.088 µm per pixel (its training scale).
- MoNuSeg 2018, the 4 held-out images with polygons: AJI, PQ and F1 at IoU 0.5 of the
  connected components of the model's foreground mask against its boundary-aware watershed.

Usage::

    python benchmarks/quality_cells.py                 # every table
    python benchmarks/quality_cells.py --limit 3       # a quick look
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
DATA = Path(os.environ.get("SEGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))

from quality_ki67 import GLIOMA_CONFIG, GLIOMA_SCALE, SHIDC_CONFIG  # noqa: E402
from train_nuclei_model import (  # noqa: E402
    GLIOMA_HELD_OUT,
    MONUSEG_HELD_OUT,
    MONUSEG_MPP,
    monuseg_polygon_slides,
)

METHODS = ("classical", "model + DAB", "model classes", "model + DAB (p1)", "model + filter")
#: SHIDC settings chosen on patient p1 for the shipped segkit:nuclei (choose_shidc_settings.py)
P1_MPP, P1_DAB = 0.12, 0.16
CELL_FILTER = "segkit:shidc-breast"


def _index(positive: int, negative: int) -> float:
    return 100.0 * positive / (positive + negative) if positive + negative else 0.0


def _score(
    image: np.ndarray, method: str, model: Any, mpp: float, config: Any = None, *,
    p1_dab: float = P1_DAB, cell_filter: str = CELL_FILTER,
) -> Any:  # fmt: skip
    from segkit.ki67 import score_ki67_classical, score_ki67_image
    from segkit.stain import H_DAB, estimate_background

    if method == "classical":
        stains = H_DAB.with_background(estimate_background(image))
        return score_ki67_classical(image, config=config or SHIDC_CONFIG, stains=stains)
    if method == "model classes":
        return score_ki67_image(image, model, classifier="learned", mpp=mpp)
    if method == "model + DAB":
        return score_ki67_image(image, model, mpp=mpp)
    kept = cell_filter if method == "model + filter" else None
    return score_ki67_image(image, model, mpp=mpp, threshold=p1_dab, cell_filter=kept)


def _detection(score: Any, points: np.ndarray, radius: float) -> dict[str, float]:
    from segkit.evaluation import point_detection_scores

    if not len(points):
        empty = float(score.summary.total == 0)
        return {"f1": empty, "precision": empty, "recall": 1.0}
    return point_detection_scores(points, score.labels, radius=radius)


def _shrink(image: np.ndarray, s: int) -> np.ndarray:
    h, w = (image.shape[0] // s) * s, (image.shape[1] // s) * s
    small = image[:h, :w].reshape(h // s, s, w // s, s, 3).mean(axis=(1, 3))
    return np.rint(small).astype(np.uint8)


def shidc_rows(
    model: Any, mpp: float, limit: int | None, *, p1_mpp: float = P1_MPP,
    p1_dab: float = P1_DAB, cell_filter: str = CELL_FILTER, radius: float = 10.0,
) -> list[dict[str, Any]]:  # fmt: skip
    from segkit.annotations import read_points
    from segkit.imaging import read_image

    root = DATA / "ki67-shidc-sample"
    rows = []
    for path in sorted((root / "images").glob("*.jpg"))[:limit]:
        image = read_image(path)
        points = read_points(root / "points" / f"{path.stem}.json")
        counts = points.counts()
        truth = _index(counts.get("Positive", 0), counts.get("Negative", 0))
        tumour = points.coords[np.asarray(points.class_names) != "Lymphocyte"]
        for method in METHODS:
            at = mpp if method in METHODS[:3] else p1_mpp
            score = _score(image, method, model, at, p1_dab=p1_dab, cell_filter=cell_filter)
            det = _detection(score, points.coords, radius)
            rows.append({"set": "SHIDC", "image": path.stem, "patient": path.stem[:2],
                         "method": method, "truth": truth, "index": score.summary.ki67_index,
                         "f1": det["f1"], "precision": det["precision"], "recall": det["recall"],
                         "f1_tumour": _detection(score, tumour, radius)["f1"],
                         "cells": score.summary.total})  # fmt: skip
    return rows


def glioma_rows(model: Any, cell_filter: str = CELL_FILTER) -> list[dict[str, Any]]:
    from segkit.annotations import read_labelbox
    from segkit.imaging import read_image
    from segkit.ki67 import score_ki67_image

    root = DATA / "ki67-glioma-fields"
    rows = []
    for external_id, objects in sorted(read_labelbox(root / "polygons_labelbox.json").items()):
        field = Path(external_id).stem
        if not field.startswith(GLIOMA_HELD_OUT):
            continue
        image = read_image(root / field / "original.jpg")
        classes = [a.class_name for a in objects]
        centres = np.array([np.asarray(a.geometry.exterior).mean(axis=0) for a in objects])
        truth = _index(classes.count("Positive"), classes.count("Negative"))
        small = _shrink(image, GLIOMA_SCALE)  # the classical detector's settings for glioma
        for method in (*METHODS[:3], "model + filter"):
            if method == "classical":
                score = _score(small, method, model, 0.0, GLIOMA_CONFIG)
                det = _detection(score, centres / GLIOMA_SCALE, 20.0 / GLIOMA_SCALE)
            elif method == "model + filter":  # the SHIDC filter on glioma, at DAB 0.2
                score = score_ki67_image(image, model, mpp=0.4 * 0.22, cell_filter=cell_filter)
                det = _detection(score, centres, 20.0)
            else:
                score = _score(image, method, model, 0.4 * 0.22)
                det = _detection(score, centres, 20.0)
            rows.append({"set": "glioma", "image": field, "method": method, "truth": truth,
                         "index": score.summary.ki67_index, "f1": det["f1"],
                         "precision": det["precision"], "recall": det["recall"],
                         "f1_tumour": det["f1"], "cells": score.summary.total})  # fmt: skip
    return rows


def monuseg_rows(model: Any) -> list[dict[str, Any]]:
    from segkit.evaluation import aggregated_jaccard_index, f1_at_iou, panoptic_quality
    from segkit.instances import connected_components, predict_instance_map
    from segkit.models import resolve_model

    net, info = resolve_model(model)
    rows = []
    for stem, image, truth in monuseg_polygon_slides(held_out=True):
        found = predict_instance_map(net, image, info=info.at_mpp(MONUSEG_MPP))
        components = connected_components(found.mask() > 0)
        for method, labels in (("connected components", components), ("watershed", found.labels)):
            rows.append({"image": stem, "method": method,
                         "aji": aggregated_jaccard_index(truth, labels),
                         "pq": panoptic_quality(truth, labels)["pq"],
                         "f1": f1_at_iou(truth, labels)["f1"]})  # fmt: skip
    return rows


def _groups(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(name, rows): glioma, SHIDC all 26, SHIDC p1 (tuning), SHIDC p2 (held out)."""
    shidc = [r for r in rows if r["set"] == "SHIDC"]
    return [("glioma", [r for r in rows if r["set"] == "glioma"]), ("SHIDC", shidc),
            ("SHIDC p1", [r for r in shidc if r["patient"] == "p1"]),
            ("SHIDC p2", [r for r in shidc if r["patient"] == "p2"])]  # fmt: skip


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for dataset, group in _groups(rows):
        for method in METHODS:
            sel = [r for r in group if r["method"] == method]
            if not sel:
                continue
            err = np.array([abs(r["index"] - r["truth"]) for r in sel])
            f1 = np.array([r["f1"] for r in sel])
            worst = sel[int(np.argmax(err))]["image"]
            out.append({"set": dataset, "method": method, "images": len(sel),
                        "index_mae": float(err.mean()), "index_worst": float(err.max()),
                        "worst_image": worst, "f1_mean": float(f1.mean()),
                        "f1_worst": float(f1.min()),
                        "precision": float(np.mean([r["precision"] for r in sel])),
                        "recall": float(np.mean([r["recall"] for r in sel])),
                        "f1_tumour": float(np.mean([r["f1_tumour"] for r in sel]))})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="segkit:nuclei")
    ap.add_argument("--shidc-mpp", type=float, default=0.12)
    ap.add_argument("--limit", type=int, default=None, help="SHIDC images (default all)")
    ap.add_argument("--p1-mpp", type=float, default=P1_MPP, help="scale chosen on p1")
    ap.add_argument("--p1-dab", type=float, default=P1_DAB, help="DAB threshold chosen on p1")
    ap.add_argument("--cell-filter", default=CELL_FILTER, help="filter trained on p1")
    ap.add_argument("--shidc-radius", type=float, default=10.0,
                    help="SHIDC detection: largest point-to-centroid distance, px")  # fmt: skip
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    from segkit.models import resolve_model

    start = time.perf_counter()
    model = resolve_model(args.model)
    rows = shidc_rows(
        model, args.shidc_mpp, args.limit, p1_mpp=args.p1_mpp, p1_dab=args.p1_dab,
        cell_filter=args.cell_filter, radius=args.shidc_radius,
    ) + glioma_rows(model, args.cell_filter)  # fmt: skip
    summary = _summary(rows)
    print(f"{'set':<9} {'method':<17} {'n':>3} {'index MAE':>9} {'worst':>6} {'F1':>6} "
          f"{'F1 worst':>8} {'P':>5} {'R':>5} {'F1 tumour':>9}  worst image")  # fmt: skip
    for s in summary:
        print(f"{s['set']:<9} {s['method']:<17} {s['images']:>3} {s['index_mae']:>9.1f} "
              f"{s['index_worst']:>6.1f} {s['f1_mean']:>6.3f} {s['f1_worst']:>8.3f} "
              f"{s['precision']:>5.2f} {s['recall']:>5.2f} "
              f"{s['f1_tumour']:>9.3f}  {s['worst_image']}")  # fmt: skip
    instances = monuseg_rows(model)
    print(f"\nMoNuSeg held-out ({len(MONUSEG_HELD_OUT)} images)   AJI     PQ   F1@0.5")
    table = {}
    for method in ("connected components", "watershed"):
        sel = [r for r in instances if r["method"] == method]
        table[method] = {k: float(np.mean([r[k] for r in sel])) for k in ("aji", "pq", "f1")}
        worst = min(r["aji"] for r in sel)
        print(f"  {method:<24} {table[method]['aji']:.3f}  {table[method]['pq']:.3f}  "
              f"{table[method]['f1']:.3f}   (worst AJI {worst:.3f})")  # fmt: skip
    result = {"ki67": summary, "ki67_rows": rows, "monuseg": table, "monuseg_rows": instances,
              "seconds": time.perf_counter() - start}  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
