"""Choose the SHIDC scale and DAB threshold of ``quality_cells.py`` on patient p1 alone.

SHIDC-B-Ki-67 states no magnification, and its Ki-67 positive nuclei are often paler than
QuPath's default threshold (DAB OD 0.2) assumes. For each scale in ``--mpps`` (µm per pixel the
images are read at, so the bundled ``segkit:nuclei`` rescales them to its 0.4) the nuclei of
every **p1** image are found once; each DAB threshold in ``--thresholds`` then classes them
(a nucleus is Positive when its mean DAB OD is at least the threshold) and the Ki-67 index
mean absolute error over the p1 images is printed, with the pair of lowest error. Patient p2
is never read: it is the held-out test.

``quality_cells.py`` uses the lowest point of this sweep for the shipped model, taken as it
came (``P1_MPP``, ``P1_DAB``): 0.12 µm/px and DAB 0.16 (p1 MAE 4.85) for the two-stage model
at its foreground threshold 0.7 (``benchmarks/results/choose_shidc_settings_cpu.txt``). The
surface is flat: 4.9-5.7 points between DAB 0.12 and 0.16 at every scale from 0.12 to 0.24
µm/px. Choose again, on p1 only, whenever ``segkit:nuclei`` (or its threshold) changes.

Usage::

    python benchmarks/choose_shidc_settings.py
    python benchmarks/choose_shidc_settings.py --mpps 0.14,0.16 --thresholds 0.12,0.14,0.16
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def p1_errors(
    model: str, mpps: list[float], thresholds: list[float], limit: int | None = None
) -> np.ndarray:
    """Index MAE over the p1 images, ``(len(mpps), len(thresholds))``."""
    from segkit.annotations import read_points
    from segkit.imaging import read_image
    from segkit.ki67 import score_ki67_image
    from segkit.ki67.summary import summarize_counts

    root = DATA / "ki67-shidc-sample"
    images = sorted((root / "images").glob("p1_*.jpg"))[:limit]
    errors = np.zeros((len(mpps), len(thresholds), len(images)))
    for k, path in enumerate(images):
        image = read_image(path)
        counts = read_points(root / "points" / f"{path.stem}.json").counts()
        pos, neg = counts.get("Positive", 0), counts.get("Negative", 0)
        truth = summarize_counts(pos, pos + neg).ki67_index
        for i, mpp in enumerate(mpps):
            dab = score_ki67_image(image, model, mpp=mpp).measurements.dab_od_mean
            for j, t in enumerate(thresholds):  # the threshold classifier's rule, re-applied
                index = summarize_counts(int(np.sum(dab >= t)), len(dab)).ki67_index
                errors[i, j, k] = abs(index - truth)
    return errors.mean(axis=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="segkit:nuclei")
    ap.add_argument("--mpps", type=_floats, default=_floats("0.12,0.14,0.16,0.18,0.20,0.22,0.24"))
    ap.add_argument(
        "--thresholds", type=_floats, default=_floats("0.08,0.10,0.12,0.14,0.16,0.18,0.20,0.24")
    )
    ap.add_argument("--limit", type=int, default=None, help="first N p1 images (a quick look)")
    args = ap.parse_args()
    mae = p1_errors(args.model, args.mpps, args.thresholds, args.limit)
    print("p1 Ki-67 index MAE (rows: µm per pixel; columns: DAB OD threshold)")
    print("mpp   " + " ".join(f"{t:6.2f}" for t in args.thresholds))
    for mpp, row in zip(args.mpps, mae, strict=True):
        print(f"{mpp:4.2f}  " + " ".join(f"{v:6.2f}" for v in row))
    i, j = np.unravel_index(int(np.argmin(mae)), mae.shape)
    print(f"chosen: mpp {args.mpps[i]}, DAB threshold {args.thresholds[j]} (MAE {mae[i, j]:.2f})")


if __name__ == "__main__":
    main()
