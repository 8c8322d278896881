"""Evaluate a model on one split part of a prepared data set.

Every image of the part is predicted (sliding windows when it is larger than the model's
input) and scored against its mask: pixel Dice, IoU, precision, recall, boundary distances
(HD95, Hausdorff, ASSD in pixels of the prepared images), and object-level precision/recall/F1
from connected components matched at IoU >= 0.5. Results go to
``per_image.csv`` and ``summary.json`` when an output folder is given.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segkit.evaluation.distances import DISTANCE_KEYS, boundary_distances
from segkit.evaluation.instance_rows import INSTANCE_KEYS, instance_row, pooled_points
from segkit.evaluation.scores import _object_ratios, object_scores, overlap_scores

__all__ = ["EvaluationResult", "evaluate", "summarize"]

SUMMARY_KEYS = (
    "dice",
    "iou",
    "precision",
    "recall",
    "object_precision",
    "object_recall",
    "object_f1",
    *DISTANCE_KEYS,
)


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of one evaluation.

    Attributes
    ----------
    per_image : list of dict
        One row per image: ``name``, ``group``, ``dice``, ``iou``, ``precision``, ``recall``,
        ``hd95``, ``hausdorff``, ``assd`` (pixels; NaN when one mask is empty),
        ``object_tp``/``fp``/``fn``, ``object_precision``/``recall``/``f1``, pixel counts
        (and ``dice_<class>``/``iou_<class>`` for multi-class models).
    summary : dict
        ``count``, ``split``, data set and model identity, ``mean``/``median``/``std`` of the
        per-image scores, and ``objects`` pooled over all images.
    output_dir : Path or None
        Where ``per_image.csv`` and ``summary.json`` were written.
    """

    per_image: list[dict[str, Any]]
    summary: dict[str, Any]
    output_dir: Path | None = field(default=None)

    @property
    def mean_dice(self) -> float:
        return float(self.summary["mean"]["dice"])


def _model_name(run_or_model: Any, model: Any) -> str:
    """The resolved folder or file a model came from, else the Keras model's name."""
    source = getattr(run_or_model, "path", run_or_model)  # a segkit.runs.Run names its folder
    if isinstance(source, str | Path):
        return str(Path(source).resolve())
    return str(getattr(model, "name", "model"))


def summarize(per_image: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, median and standard deviation of each score, and pooled object counts.

    The boundary distances (:data:`~segkit.evaluation.distances.DISTANCE_KEYS`) are averaged
    over the images where they are defined; ``distances_undefined`` counts the others (one of
    the two masks empty).
    """
    present = {k for row in per_image for k in row}
    keys = [k for k in present if k in SUMMARY_KEYS or k in INSTANCE_KEYS
            or k.startswith(("dice_", "iou_"))]  # fmt: skip
    keys.sort(key=lambda k: (k not in SUMMARY_KEYS, k))
    out: dict[str, Any] = {"mean": {}, "median": {}, "std": {}}
    for key in keys:
        values = np.asarray([row[key] for row in per_image if key in row], dtype=np.float64)
        if key in DISTANCE_KEYS:  # NaN where one mask is empty: averaged where defined
            values = values[~np.isnan(values)]
            if not values.size:
                continue
        out["mean"][key] = float(values.mean())
        out["median"][key] = float(np.median(values))
        out["std"][key] = float(values.std())
    distances = [row[DISTANCE_KEYS[0]] for row in per_image if DISTANCE_KEYS[0] in row]
    if distances:  # the distances of a row are all defined or all NaN
        out["distances_undefined"] = int(np.count_nonzero(np.isnan(distances)))
    with_objects = [r for r in per_image if "object_tp" in r]
    if with_objects:
        tp, fp, fn = (sum(int(r[f"object_{k}"]) for r in with_objects) for k in ("tp", "fp", "fn"))
        out["objects"] = {"tp": tp, "fp": fp, "fn": fn, **_object_ratios(tp, fp, fn)}
    points = pooled_points(per_image)
    if points:
        out["points"] = points
    return out


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.6f}" if isinstance(v, float) else v for k, v in row.items()})
    return buf.getvalue()


def evaluate(
    run_or_model: Any,
    dataset_dir: str | Path,
    split: str = "test",
    *,
    output_dir: str | Path | None = None,
    objects: bool = True,
    tile_size: int | None = None,
    tta: bool = False,
    save_predictions: bool = False,
    instances: bool | None = None,
    point_radius: float = 8.0,
) -> EvaluationResult:
    """Score a model on the ``split`` part of a prepared data set.

    Parameters
    ----------
    run_or_model : path, Run, keras.Model or (keras.Model, ModelInfo)
        A run folder, a model folder or ``.keras`` file, a ``segkit.runs.Run``, or a model
        (see :func:`segkit.models.resolve_model`).
    dataset_dir : path
        A data set written by ``segkit prepare`` (its images are already at the template's
        size, scale and colour model, so no rescaling is applied).
    split : {'test', 'val', 'train'}
    output_dir : path, optional
        Write ``per_image.csv`` and ``summary.json`` there (atomically).
    objects : bool
        Also compute object-level scores (connected components matched at IoU >= 0.5).
    tile_size : int, optional
        Sliding-window tile; default: the model's training input size.
    tta : bool
        Flip test-time augmentation.
    save_predictions : bool
        Also write each predicted mask to ``output_dir/predictions/NAME.png``.
    instances : bool, optional
        Also separate the predicted objects (:func:`segkit.instances.predict_instance_map`) and
        score them: AJI, PQ with DQ and SQ, precision / recall / F1 at IoU 0.5 (one-to-one
        matching) against the pairs' instance labels, and point detection precision / recall /
        F1 against their points. Default: when the data set has instance labels or points, or
        the model is an instance model.
    point_radius : float
        A predicted nucleus matches an annotated point when its centroid is this close
        (pixels of the prepared images).

    Returns
    -------
    EvaluationResult
    """
    from segkit.dataset import load_image, load_instances, load_manifest, load_pair, load_points
    from segkit.decision import model_mask
    from segkit.files import atomic_write_text
    from segkit.inference import predict, save_mask
    from segkit.instances import predict_instance_map
    from segkit.models import resolve_model

    manifest = load_manifest(dataset_dir)
    pairs = manifest.split(split)
    if not pairs:
        raise ValueError(
            f"{manifest.root}: split part {split!r} is empty ({manifest.counts}); "
            "choose another with split=..."
        )
    model, info = resolve_model(run_or_model)
    mask_classes = info.mask_classes
    if mask_classes != manifest.template.num_classes:
        raise ValueError(
            f"the model predicts {mask_classes} classes but {manifest.root} has "
            f"{manifest.template.num_classes} ({', '.join(manifest.template.classes.names)})"
        )
    if info.channels != manifest.template.channels:
        raise ValueError(
            f"the model takes {info.channels}-channel images but {manifest.root} holds "
            f"{manifest.template.color_model} images ({manifest.template.channels} channel(s))"
        )
    prepared = info.replace(scale=(1.0, 1.0), color_model=manifest.template.color_model)
    out = Path(output_dir) if output_dir is not None else None
    rows: list[dict[str, Any]] = []
    if instances is None:
        instances = info.target == "instances" or any(p.instances or p.points for p in pairs)
    for pair in pairs:
        row: dict[str, Any] = {"name": pair.name, "group": pair.group}
        if instances:
            image = load_image(manifest, pair)
            found = predict_instance_map(model, image, info=prepared, tile_size=tile_size, tta=tta)
            pred = (
                found.mask()
                if info.target == "instances"
                else model_mask(found.proba, threshold=found.info.threshold)
            )
            row |= instance_row(
                found.labels, load_instances(manifest, pair), load_points(manifest, pair)[0],
                radius=point_radius,
            )  # fmt: skip
        else:
            pred = predict(model, load_image(manifest, pair), info=prepared, tile_size=tile_size,
                           tta=tta)  # fmt: skip
        if pair.mask:
            _, mask = load_pair(manifest, pair)
            row |= overlap_scores(
                mask, pred, mask_classes, class_names=manifest.template.classes.names
            )
            row |= boundary_distances(mask, pred)
            if objects:
                row |= object_scores(mask, pred)
            row["true_pixels"] = int(np.count_nonzero(mask))
        row["pred_pixels"] = int(np.count_nonzero(pred))
        rows.append(row)
        if save_predictions and out is not None:
            save_mask(out / "predictions" / f"{pair.name}.png", pred, mask_classes)
    summary: dict[str, Any] = {
        "split": split,
        "count": len(rows),
        "dataset": str(manifest.root),
        "dataset_fingerprint": manifest.fingerprint,
        "model": _model_name(run_or_model, model),
        "model_fingerprint": info.fingerprint,
        "same_dataset": bool(info.fingerprint) and info.fingerprint == manifest.fingerprint,
        "tta": tta,
        **summarize(rows),
    }
    if out is not None:
        atomic_write_text(out / "per_image.csv", _csv_text(rows))
        atomic_write_text(out / "summary.json", json.dumps(_finite(summary), indent=2) + "\n")
    return EvaluationResult(per_image=rows, summary=summary, output_dir=out)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
