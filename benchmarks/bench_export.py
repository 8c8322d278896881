"""Benchmark: the exported ONNX graph against the Keras model it came from, on the CPU.

Exports ``segkit:nuclei`` (or ``--model``) with ``segkit.models.export_onnx``, then times, side
by side in one run (alternating rounds, best of ``--repeat`` each), one batch of ``--batch``
tiles of ``--tile`` px through:

- Keras: ``model.predict_on_batch`` (the backend segkit predicts with);
- ONNX Runtime: ``InferenceSession.run`` of the exported file (CPU provider, its default
  threads).

Prints the export time, the size of the file, the largest difference of the probabilities on
the timed batch and tiles/s of each. Then the same for a whole synthetic image of ``--image`` px
through segkit's tiled predictor (``segkit.inference.predict_proba``: normalisation, tiles,
blending), once with the Keras model and once with the ``.onnx`` file as the model
(``segkit predict model.onnx``). Needs the ``onnx`` extra.

Usage::

    python benchmarks/bench_export.py [--model segkit:nuclei] [--tile 256] [--batch 8]
                                      [--image 1024]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="segkit:nuclei")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--image", type=int, default=1024, help="whole-image side; 0: skip")
    args = ap.parse_args()

    from segkit.inference import predict_proba
    from segkit.models import export_onnx, resolve_model
    from segkit.models.onnx_model import load_onnx_model
    from segkit.synthetic import make_synthetic_sample

    model, info = resolve_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        result = export_onnx(args.model, path)
        size = path.stat().st_size / 1e6
        onnx_model = load_onnx_model(path, providers=["CPUExecutionProvider"])
        session = onnx_model[0].session
        channels = int(model.input_shape[-1])
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (args.batch, args.tile, args.tile, channels)).astype("float32")
        runs = {
            "keras": lambda: np.asarray(model.predict_on_batch(x)),
            "onnxruntime": lambda: session.run(["probabilities"], {"image": x})[0],
        }
        outputs = {name: fn() for name, fn in runs.items()}  # warm-up (graph building)
        times = _alternate(runs, args.repeat)
        whole: dict[str, list[float]] = {}
        if args.image:
            image = make_synthetic_sample(args.image, args.image, seed=3).image
            nets = {"keras": (model, info), "onnxruntime": onnx_model}
            predictors = {
                name: (lambda pair=pair: predict_proba(pair, image, tile_size=args.tile))
                for name, pair in nets.items()
            }
            probas = {name: fn() for name, fn in predictors.items()}  # warm-up
            whole_diff = float(np.max(np.abs(probas["keras"] - probas["onnxruntime"])))
            whole = _alternate(predictors, max(1, args.repeat // 2))
    diff = float(np.max(np.abs(outputs["keras"] - outputs["onnxruntime"])))
    print(
        f"model {args.model}: export {result.seconds:.1f} s, {size:.1f} MB, "
        f"largest difference of probabilities {diff:.1g}"
    )
    best = {name: min(t) for name, t in times.items()}
    for name, seconds in best.items():
        rate = args.batch / seconds
        print(
            f"{name:<12} {args.batch} tiles of {args.tile}: {seconds * 1e3:7.1f} ms "
            f"({rate:.1f} tiles/s)"
        )
    print(f"onnxruntime / keras time: {best['onnxruntime'] / best['keras']:.2f}x")
    if whole:
        best = {name: min(t) for name, t in whole.items()}
        print(
            f"whole {args.image}x{args.image} image through predict_proba (tiles of {args.tile}), "
            f"largest difference {whole_diff:.1g}:"
        )
        for name, seconds in best.items():
            print(f"{name:<12} {seconds:7.2f} s")
        print(f"onnxruntime / keras time: {best['onnxruntime'] / best['keras']:.2f}x")


def _alternate(runs: dict, repeat: int) -> dict[str, list[float]]:
    """Seconds of each run, ``repeat`` rounds, the runs alternating within a round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


if __name__ == "__main__":
    main()
