"""Tiled prediction vs ``model.predict`` on the same tiles stacked in memory.

Predicts one large image with :func:`segkit.inference.predict_proba` (Gaussian-blended
sliding windows, tiles streamed in batches) and, with the same model, cuts the very same
tiles into one in-memory array and calls ``model.predict`` on it. Prints both wall times,
their ratio (target: tiled <= 1.15x) and the peak memory of each (NumPy allocations traced
by ``tracemalloc``, plus the process's maximum resident size). Also times the host's part
alone: the same sliding windows with a predictor that returns at once (cutting, blending,
dividing). On an accelerator that part is what the device waits on, so it bounds the tiled
time from below; here it is measured beside the model it is compared with.

    python benchmarks/bench_predict.py [--size 4096] [--tile 256] [--filters 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn):  # type: ignore[no-untyped-def]
    """``(result, wall seconds, CPU seconds)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _peak_mib(fn) -> float:  # type: ignore[no-untyped-def]
    """Peak NumPy/Python memory allocated while ``fn`` runs (tracemalloc), in MiB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


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
    warm = np.zeros((args.batch_size, *tile, 3), dtype=np.uint8)
    model.predict_on_batch(warm)
    model.predict(warm, batch_size=args.batch_size, verbose=0)
    if len(grid) % args.batch_size:  # model.predict's last, smaller batch
        model.predict(warm[: len(grid) % args.batch_size], verbose=0)

    def tiled():
        return predict_proba(
            model, image, tile_size=tile, overlap=args.overlap, batch_size=args.batch_size
        )

    def stack_tiles():
        # uint8, as the tiled path hands its tiles over (the model casts them)
        return np.stack([image[r : r + tile[0], c : c + tile[1]] for r, c in grid])

    from segkit.inference.tiling import sliding_window

    ready = np.zeros((args.batch_size, *tile, 1), dtype=np.float32)

    def host_only():
        return sliding_window(
            lambda batch: ready[: len(batch)], image, tile, overlap=args.overlap,
            batch_size=args.batch_size, pad_batches=False,
        )  # fmt: skip

    def direct():
        stack = stack_tiles()
        return model.predict(stack, batch_size=args.batch_size, verbose=0)

    # memory pass (tracemalloc slows allocation-heavy code, so it is not timed)
    peak_tiled = _peak_mib(tiled)
    rss_tiled = _max_rss_mib()  # before any stack of all tiles was allocated
    peak_direct = _peak_mib(direct)

    walls: dict[str, list[float]] = {"tiled": [], "direct": []}
    cpus: dict[str, list[float]] = {"tiled": [], "direct": []}
    for i in range(args.repeat):
        stack = stack_tiles()
        order = ("tiled", "direct") if i % 2 == 0 else ("direct", "tiled")
        for name in order:
            fn = (
                tiled
                if name == "tiled"
                else (lambda s=stack: model.predict(s, batch_size=args.batch_size, verbose=0))
            )
            _, wall, cpu = _timed(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)
        del stack
        print(
            f"  run {i + 1}: tiled {walls['tiled'][-1]:7.2f} s wall {cpus['tiled'][-1]:7.2f} s CPU"
            f" | model.predict {walls['direct'][-1]:7.2f} s wall {cpus['direct'][-1]:7.2f} s CPU"
        )
    host = min(_timed(host_only)[1] for _ in range(max(3, args.repeat)))
    wall_ratio = min(walls["tiled"]) / min(walls["direct"])
    cpu_ratio = min(cpus["tiled"]) / min(cpus["direct"])
    verdict = "OK" if wall_ratio <= 1.15 else "ABOVE TARGET"
    print(f"tiled predict_proba          : {min(walls['tiled']):8.2f} s (best of {args.repeat})")
    print(f"model.predict on stacked tiles: {min(walls['direct']):8.2f} s (stacking not counted)")
    print(f"ratio tiled / direct, wall    : {wall_ratio:8.3f} (target <= 1.15) {verdict}")
    print(f"ratio tiled / direct, CPU     : {cpu_ratio:8.3f}")
    print(
        f"host part alone (a predictor that returns at once): {host:.3f} s, "
        f"{host / min(walls['direct']):.3f}x model.predict"
    )
    print(f"peak traced memory, tiled                 : {peak_tiled:8.1f} MiB")
    print(f"peak traced memory, stack + model.predict : {peak_direct:8.1f} MiB")
    overall = _max_rss_mib()
    print(f"max resident size, after tiled / overall  : {rss_tiled:.0f} / {overall:.0f} MiB")


if __name__ == "__main__":
    main()
