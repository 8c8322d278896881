"""The recipe of the bundled nucleus model ``segkit:nuclei`` (brightfield H&E and Ki-67 IHC).

1. Build one polygon source at the model's working scale (0.4 µm per pixel, nuclei about 15
   px across), an image and a QuPath GeoJSON of its nuclei each, classes Negative / Positive:
   - MoNuSeg 2018 (H&E, 40x, 0.2527 µm/px, scaled by 0.63): the 13 images with the organisers'
     polygons (the held-out ones below excluded), and the 17 with binary masks only, split
     into nuclei by the distance-transform watershed (:func:`segkit.instances.labels_from_mask`)
     and marked as such in the data card. H&E nuclei carry no DAB: all Negative.
   - Ki-67 glioma fields (Labelbox polygons Positive / Negative; nuclei about 68 px across, so
     scaled by 0.22): patients 1309620 and 8682421; patient 1329941 is held out.
   - Synthetic Ki-67 tiles (:func:`segkit.synthetic.make_synthetic_sample`), nuclei 10-20 px.
2. ``segkit prepare`` it with the template ``{"height": 256, "width": 256, "fit": "tile",
   "target": "instances", "classes": background / negative / positive}``: tiles with instance
   labels, the boundary-aware target derived in the input pipeline.
3. ``segkit train`` a U-Net (depth 4, 16 filters, CE + Dice, stain jitter 0.3, flips, rotations,
   brightness and contrast), best epoch by validation loss, within ``--minutes``.
4. With ``--install``, copy the model into ``segkit/models/bundled/nuclei/`` with
   ``mpp = 0.4`` and a default scale for 40x images (0.25 µm/px -> 0.625).

Held out for the scores in the model card (``benchmarks/quality_cells.py``): MoNuSeg
TCGA-21-5786, TCGA-AR-A1AS, TCGA-B0-5711, TCGA-G9-6362 (lung, breast, kidney, prostate; one
slide each), glioma patient 1329941, and all of ki67-shidc-sample (never trained on).

Usage::

    python benchmarks/train_nuclei_model.py --minutes 50 --install
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
BUNDLED = REPO / "segkit" / "models" / "bundled" / "nuclei"

MODEL_MPP = 0.4
MONUSEG_MPP = 0.2527
MONUSEG_HELD_OUT = ("TCGA-21-5786", "TCGA-AR-A1AS", "TCGA-B0-5711", "TCGA-G9-6362")
GLIOMA_FACTOR = 0.22
GLIOMA_HELD_OUT = ("1329941",)
CLASSES = {"names": ["background", "negative", "positive"], "mapping": {"1": 1, "2": 2}}


def held_out_monuseg(name: str) -> bool:
    """Whether a MoNuSeg image is kept out of training (the model card's test images)."""
    return name.startswith(MONUSEG_HELD_OUT)


def monuseg_polygon_slides(*, held_out: bool) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(stem, RGB image, instance labels)`` of the MoNuSeg images with polygons, at 40x:
    the held-out ones (the test) or the others (training images)."""
    from segkit.annotations import rasterize_instances, read_aperio_xml
    from segkit.imaging import read_image, to_channels

    for xml in sorted((DATA / "monuseg2018-train-xml").glob("*.xml")):
        if held_out_monuseg(xml.stem) != held_out:
            continue
        tif = next((DATA / "monuseg2018-train" / "Tissue_Images").glob(f"{xml.stem}*.tif"))
        image = to_channels(read_image(tif), 3)
        truth = rasterize_instances(read_aperio_xml(xml).annotations, image.shape[:2])
        yield tif.stem, image, truth


def _write(out: Path, name: str, image: np.ndarray, polygons: list[tuple[np.ndarray, str]]) -> None:
    from segkit.annotations.geometry import Annotation, Polygon
    from segkit.annotations.qupath_geojson import write_qupath_geojson
    from segkit.imaging import write_image

    write_image(out / f"{name}.png", image)
    write_qupath_geojson(
        out / f"{name}.geojson",
        (Annotation(Polygon(ring), class_name=cls) for ring, cls in polygons if len(ring) >= 4),
    )


def _outlines(labels: np.ndarray, cls: str | dict[int, str]) -> list[tuple[np.ndarray, str]]:
    from segkit.ki67.outlines import nucleus_outlines

    ids = np.unique(labels[labels > 0])
    rings = nucleus_outlines(labels, ids)
    name = (lambda k: cls) if isinstance(cls, str) else cls.__getitem__
    return [(np.asarray(rings[k], dtype=float), name(int(k))) for k in ids if k in rings]


def _scaled(image: np.ndarray, factor: float) -> np.ndarray:
    from segkit.imaging import resize_image

    h, w = image.shape[:2]
    return np.asarray(resize_image(image, (round(h * factor), round(w * factor))))


def build_source(out: Path, *, synthetic: int = 40) -> dict[str, int]:
    """Write the polygon source of the recipe into ``out``; returns images per origin."""
    from segkit.annotations import read_aperio_xml, read_labelbox
    from segkit.imaging import read_image, to_channels
    from segkit.instances import labels_from_mask
    from segkit.synthetic import make_synthetic_sample

    counts = {"monuseg_polygons": 0, "monuseg_watershed": 0, "glioma": 0, "synthetic": 0}
    factor = MONUSEG_MPP / MODEL_MPP
    monuseg = DATA / "monuseg2018-train"
    for tif in sorted((monuseg / "Tissue_Images").glob("*.tif")):
        if held_out_monuseg(tif.stem):
            continue
        image = _scaled(to_channels(read_image(tif), 3), factor)
        xml = DATA / "monuseg2018-train-xml" / f"{tif.stem}.xml"
        if xml.is_file():
            rings = [
                (np.asarray(a.geometry.exterior) * factor, "Negative")
                for a in read_aperio_xml(xml).annotations
                if hasattr(a.geometry, "exterior")
            ]
            counts["monuseg_polygons"] += 1
        else:
            mask = read_image(monuseg / "Binary_masks" / f"{tif.stem}.png") > 0
            labels = labels_from_mask(mask)
            rings = [(r * factor, c) for r, c in _outlines(labels, "Negative")]
            counts["monuseg_watershed"] += 1
        _write(out, f"monuseg_{tif.stem}", image, rings)
    glioma = DATA / "ki67-glioma-fields"
    for external_id, objects in read_labelbox(glioma / "polygons_labelbox.json").items():
        field = Path(external_id).stem
        if field.startswith(GLIOMA_HELD_OUT) or not (glioma / field / "original.jpg").is_file():
            continue
        image = _scaled(read_image(glioma / field / "original.jpg"), GLIOMA_FACTOR)
        rings = [
            (np.asarray(a.geometry.exterior) * GLIOMA_FACTOR, str(a.class_name))
            for a in objects
            if hasattr(a.geometry, "exterior")
        ]
        _write(out, f"glioma_{field.replace(' ', '')}", image, rings)
        counts["glioma"] += 1
    for i in range(synthetic):
        fraction = float(np.linspace(0.05, 0.6, synthetic)[i])
        s = make_synthetic_sample(
            256, 256, seed=5000 + i, density=1.6, radius=(5.0, 10.0), positive_fraction=fraction
        )
        names = {k + 1: ("Positive" if p else "Negative") for k, p in enumerate(s.positive)}
        _write(out, f"synthetic_{i:03d}", s.image, _outlines(s.labels, names))
        counts["synthetic"] += 1
    return counts


def install(run_dir: Path) -> Path:
    """Copy the run's model into the package as ``segkit:nuclei`` with its mpp and scale.

    The foreground threshold is chosen on the MoNuSeg training images with polygons
    (``choose_nuclei_threshold.py``) and recorded in ``model.json``.
    """
    from choose_nuclei_threshold import choose_threshold

    from segkit.models import load_model

    net, info = load_model(run_dir)
    default_scale = 0.25 / MODEL_MPP  # a 40x image (0.25 µm/px) by default
    info = info.replace(mpp=MODEL_MPP, scale=(default_scale, default_scale))
    info = info.replace(threshold=choose_threshold((net, info)))
    BUNDLED.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "model.keras", BUNDLED / "model.keras")
    (BUNDLED / "model.json").write_text(info.to_json(), encoding="utf-8")
    return BUNDLED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("bench_out/nuclei"), help="output folder")
    ap.add_argument("--minutes", type=float, default=30.0, help="stop training after this")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--synthetic", type=int, default=40, help="synthetic Ki-67 tiles")
    ap.add_argument("--run-id", default="nuclei")
    ap.add_argument("--install", action="store_true", help="copy the model into the package")
    args = ap.parse_args()

    start = time.perf_counter()
    source = args.work / "source"
    if not source.is_dir():
        counts = build_source(source, synthetic=args.synthetic)
        print(f"source: {counts} in {time.perf_counter() - start:.0f} s", flush=True)
    prepare_and_train(
        args.work, start=start, minutes=args.minutes, run_id=args.run_id,
        install_model=args.install, epochs=args.epochs,
    )  # fmt: skip


def prepare_and_train(
    work: Path, *, start: float, minutes: float, run_id: str, install_model: bool,
    **config: Any,
) -> None:  # fmt: skip
    """Prepare ``work/source`` with the recipe's template, train, print a summary, install.

    ``config`` overrides the recipe's :class:`TrainConfig` (the second stage's learning rate
    and ``init_model``); the time budget counts from ``start``.
    """
    from segkit.dataset import prepare_dataset
    from segkit.template import DatasetTemplate
    from segkit.training import TrainConfig, train
    from segkit.training.callbacks import TimeLimit

    template = DatasetTemplate.from_dict({
        "height": 256, "width": 256, "fit": "tile", "target": "instances", "classes": CLASSES,
        "split": {"train": 0.9, "val": 0.1, "test": 0.0, "seed": 3},
    })  # fmt: skip
    report = prepare_dataset(work / "source", work / "prepared", template, progress=False)
    print(report.format(), flush=True)
    recipe = TrainConfig(
        epochs=300, batch_size=8, learning_rate=1e-3, loss="ce_dice", depth=4, base_filters=16,
        stain_jitter=0.3, brightness=0.1, contrast=0.15, patience=40, seed=3,
    )  # fmt: skip
    callbacks = [TimeLimit(minutes * 60.0, since=start)]
    run = train(work / "prepared", recipe.replace(**config), runs_dir=work / "runs",
                run_id=run_id, callbacks=callbacks)  # fmt: skip
    summary = {
        "run": str(run.path),
        "init_model": config.get("init_model"),
        "epochs": run.epochs_done,
        "best_epoch": run.metrics.get("best_epoch"),
        "minutes": (time.perf_counter() - start) / 60.0,
        "counts": report.manifest.counts,
    }
    print(json.dumps(summary, indent=2))
    if install_model:
        print(f"installed {install(run.path)}")


if __name__ == "__main__":
    main()
