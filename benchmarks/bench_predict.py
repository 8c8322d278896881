"""Tiled prediction vs ``model.predict`` on the same tiles stacked in memory.

Predicts one large image with :func:`segkit.inference.predict_proba` (Gaussian-blended
sliding windows, tiles streamed in batches) and, with the same model, cuts the very same
tiles into one in-memory array and calls ``model.predict`` on it. Prints both wall times,
their ratio (target: tiled <= 1.15x) and the peak memory of each (NumPy allocations traced
by ``tracemalloc``, plus the process's maximum resident size).

    python benchmarks/bench_predict.py [--size 4096] [--tile 256] [--filters 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="image height and width")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--filters", type=int, default=8, help="base filters of the U-Net")
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs each")
    args = parser.parse_args()

    import keras

    from segkit.inference import predict_proba
    from segkit.inference.tiling import tile_grid
    from segkit.models import build_unet

    keras.utils.set_random_seed(0)
    model = build_unet((None, None, 3), 2, depth=args.depth, base_filters=args.filters)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    tile = (args.tile, args.tile)
    grid = tile_grid(image.shape[:2], tile, args.overlap)
    print(
        f"image {args.size}x{args.size}x3, tile {args.tile}, overlap {args.overlap}: "
        f"{len(grid)} tiles, batch {args.batch_size}, U-Net depth {args.depth} "
        f"base_filters {args.filters} ({model.count_params():,} parameters), "
        f"keras {keras.__version__} on {keras.backend.backend()}"
    )

    # warm up both paths (tracing) on the shapes they will see
    warm = np.zeros((args.batch_size, *tile, 3), dtype=np.float32)
    model.predict_on_batch(warm)
    model.predict(warm, batch_size=args.batch_size, verbose=0)
    if len(grid) % args.batch_size:  # model.predict's last, smaller batch
        model.predict(warm[: len(grid) % args.batch_size], verbose=0)

    def tiled():
        return predict_proba(
            model, image, tile_size=tile, overlap=args.overlap, batch_size=args.batch_size
        )

    def stack_tiles():
        return np.stack([image[r : r + tile[0], c : c + tile[1]] for r, c in grid]).astype(
            np.float32
        )

    best_tiled = best_direct = float("inf")
    rss_tiled: float | None = None
    for _ in range(args.repeat):
        _, t_tiled, peak_tiled = _timed(tiled)
        if rss_tiled is None:  # before any stack of tiles was allocated
            rss_tiled = _max_rss_mib()
        best_tiled = min(best_tiled, t_tiled)
        stack, t_stack, peak_stack = _timed(stack_tiles)
        _, t_direct, peak_direct = _timed(
            lambda s=stack: model.predict(s, batch_size=args.batch_size, verbose=0)
        )
        del stack
        best_direct = min(best_direct, t_direct)
        print(
            f"  run: tiled {t_tiled:7.2f} s | stacking {t_stack:5.2f} s + "
            f"model.predict {t_direct:7.2f} s"
        )
    ratio = best_tiled / best_direct
    print(f"tiled predict_proba         : {best_tiled:8.2f} s  (best of {args.repeat})")
    print(f"model.predict, stacked tiles: {best_direct:8.2f} s  (stacking not counted)")
    print(f"time ratio tiled / direct   : {ratio:8.3f}  (target <= 1.15) ", end="")
    print("OK" if ratio <= 1.15 else "ABOVE TARGET")
    print(f"peak traced NumPy memory, tiled         : {peak_tiled:8.1f} MiB")
    print(f"peak traced NumPy memory, stacked tiles : {peak_stack:8.1f} MiB (the stack)")
    print(f"peak traced NumPy memory, model.predict : {peak_direct:8.1f} MiB (all outputs)")
    overall = _max_rss_mib()
    print(f"max resident size, first tiled run / overall: {rss_tiled:.0f} / {overall:.0f} MiB")


if __name__ == "__main__":
    main()
