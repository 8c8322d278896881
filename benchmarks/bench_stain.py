"""How much stain normalisation evens out real images, and what it costs.

On MoNuSeg (H&E, 30 images of 7 organs from 18 hospitals) and SHIDC-B-Ki-67 (IHC, 26 images):
the target is fitted on every third image and the others are normalised to it. Reported per
method, before and after:

- the spread between images of the tissue's CIELAB mean (the standard deviation over the
  images of each of L, a, b; what Reinhard matches);
- the angle between each image's own Macenko stain vectors and the target's (mean over the
  images, degrees, first and second stain; what Macenko matches);
- seconds per megapixel to measure an image's stain and to apply the normalisation.

Usage: ``python benchmarks/bench_stain.py [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from segkit.stain_normalisation import (
    fit_stain_normalisation,
    measure_stain,
    normalise,
    rgb_to_lab,
)

SETS = {
    "MoNuSeg H&E": ("monuseg2018-train/Tissue_Images", "*.tif"),
    "SHIDC Ki-67": ("ki67-shidc-sample/images", "*.jpg"),
}


def _tissue_lab_mean(image: np.ndarray) -> np.ndarray:
    flat = image.reshape(-1, 3)
    return rgb_to_lab(flat[flat.min(axis=1) < 220]).mean(axis=0)


def _angles(images: list[np.ndarray], target) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = []
    for image in images:
        own = measure_stain(image, "macenko")
        if own is None:
            continue
        cos = np.sum(np.asarray(own.stain_vectors) * np.asarray(target.stain_vectors), axis=1)
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.mean(out, axis=0)


def run(folder: Path, pattern: str, name: str) -> None:
    files = sorted(folder.glob(pattern))
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    fit, rest = images[::3], [im for i, im in enumerate(images) if i % 3]
    mpx = sum(im.shape[0] * im.shape[1] for im in rest) / 1e6
    macenko = fit_stain_normalisation(fit, "macenko")
    print(f"\n{name}: {len(files)} images, fitted on {len(fit)}, {len(rest)} normalised")
    print(f"{'':12} {'tissue LAB mean, sd over images':>34} {'Macenko angle to target':>26}")
    spread = np.std([_tissue_lab_mean(im) for im in rest], axis=0)
    angle = _angles(rest, macenko)
    print(f"{'before':12} {np.array2string(spread, precision=1):>34} "
          f"{np.array2string(angle, precision=1):>26}")  # fmt: skip
    for method in ("reinhard", "macenko"):
        target = fit_stain_normalisation(fit, method)
        start = time.perf_counter()
        sources = [measure_stain(im, method) for im in rest]
        measured = time.perf_counter() - start
        start = time.perf_counter()
        out = [normalise(im, target, source=s) for im, s in zip(rest, sources)]
        applied = time.perf_counter() - start
        spread = np.std([_tissue_lab_mean(im) for im in out], axis=0)
        angle = _angles(out, macenko)
        print(f"{method:12} {np.array2string(spread, precision=1):>34} "
              f"{np.array2string(angle, precision=1):>26}   measure {measured / mpx:.3f} s/Mpx, "
              f"apply {applied / mpx:.3f} s/Mpx")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", type=Path)
    args = parser.parse_args()
    for name, (sub, pattern) in SETS.items():
        if (args.data / sub).is_dir():
            run(args.data / sub, pattern, name)
        else:
            print(f"{name}: {args.data / sub} is missing; skipped")


if __name__ == "__main__":
    main()
