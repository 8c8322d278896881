"""Benchmark: the cost of cells on top of the model, on a 1000 x 1000 tile.

Side by side, in one run, best of ``--repeat``:

- the model: ``predict_proba`` of the bundled ``segkit:nuclei`` over the tile (tiled,
  Gaussian-blended, at the tile's own scale);
- post-processing: the boundary-aware watershed (``labels_from_probabilities``) plus the
  per-nucleus measurement (colour deconvolution, ``measure_nuclei``) and the DAB classes.

Target: post-processing <= 0.5x the model's predict time. The tile is a MoNuSeg H&E image when
``../shared/data`` is there (a dense one: ~500 nuclei), else a synthetic Ki-67 tile.

Usage::

    python benchmarks/bench_cells.py
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
TILE = DATA / "monuseg2018-train" / "Tissue_Images" / "TCGA-21-5786-01Z-00-DX1.tif"


def _tile() -> tuple[np.ndarray, str]:
    from segkit.imaging import read_image, to_channels
    from segkit.synthetic import make_synthetic_sample

    if TILE.is_file():
        return to_channels(read_image(TILE), 3)[:1000, :1000], TILE.name
    return make_synthetic_sample(1000, 1000, seed=7, density=1.5).image, "synthetic"


def _best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="segkit:nuclei")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from segkit.inference import predict_proba
    from segkit.instances import labels_from_probabilities
    from segkit.instances.predict import instance_probabilities
    from segkit.ki67 import ThresholdClassifier, measure_nuclei
    from segkit.models import resolve_model
    from segkit.stain import H_DAB, estimate_background

    model, info = resolve_model(args.model)
    info = info.replace(scale=(1.0, 1.0))  # the tile as it is
    image, name = _tile()
    predict_proba(model, image[:256, :256], info=info)  # warm-up
    t_model, proba = _best(lambda: predict_proba(model, image, info=info), args.repeat)

    def post() -> int:
        labels = labels_from_probabilities(instance_probabilities(proba, info))
        stains = H_DAB.with_background(estimate_background(image))
        table = measure_nuclei(image, labels, stains)
        ThresholdClassifier().classify(table, labels)
        return len(table)

    t_post, nuclei = _best(post, args.repeat)
    print(f"tile: {name} 1000x1000, {nuclei} nuclei, model {args.model}, best of {args.repeat}")
    print(f"model predict_proba:          {t_model:7.3f} s")
    print(f"watershed + measure + class:  {t_post:7.3f} s")
    print(f"ratio post / model:           {t_post / t_model:7.3f}x (target <= 0.5x)")


if __name__ == "__main__":
    main()
