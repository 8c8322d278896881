"""Whole-slide prediction: ``predict_slide`` vs ``model.predict`` on the same tissue tiles.

A generated OME-TIFF slide (``--size`` px a side, ``--tissue`` of its area tissue, 0.25 µm per
pixel) is written once into ``--cache``. Each measured case runs in a fresh Python process, so
that one case's memory does not count in another's peak:

- ``slide``: :func:`segkit.slides.predict_slide` over the slide (tissue mask from
  :func:`segkit.slides.detect_tissue`, computed and timed before), mask written as a pyramidal
  OME-TIFF; tiles/s = windows predicted / wall time of the call;
- ``direct``: the very same tissue windows (the plan and tissue test ``predict_slide`` uses),
  read once into memory and stacked; only ``model.predict`` on the stack is timed;
- ``slide`` again on a slide of 4x the area with the same tissue area (``--flat-size``, default
  twice the side, tissue share / 4): the peak memory must not grow with the slide.

The two cases run ``--repeat`` times (default 3), alternately; the fastest run of each
counts, since other work on the machine only ever slows a run down (every run is printed).
The CPU time of each (all threads of the process) is reported beside the wall time.

Targets: (a) slide tiles/s >= 0.85x direct; (b) the slide process's peak resident memory
(``VmHWM``) <= 2 GB, and within 15 % between the two slide sizes; (c) the share of windows
skipped as glass is reported.

The model is a small stand-in by default (``build_unet`` depth 3, 8 filters, untrained,
``ModelInfo(mpp=0.5)``: the slide is predicted at its level 1); ``--model segkit:nuclei`` (or a
run or model folder) predicts with a real one.

    python benchmarks/bench_slide.py [--size 40000] [--tissue 0.03] [--flat-size 80000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / "benchmarks" / ".cache" / "slides"
SLIDE_MPP = 0.25
RESULT = "RESULT "


def _peak_mib() -> float:
    """Peak resident memory of this process (``VmHWM``; ``ru_maxrss`` where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _slide_path(cache: Path, size: int, tissue: float) -> Path:
    return cache / f"bench_{size}_{tissue:g}.ome.tif"


def ensure_slide(cache: Path, size: int, tissue: float) -> tuple[Path, float]:
    """The cached slide (generated when missing) and the seconds its generation took."""
    from segkit.slides import make_synthetic_slide

    path = _slide_path(cache, size, tissue)
    if path.is_file():
        return path, 0.0
    cache.mkdir(parents=True, exist_ok=True)
    part = path.with_name(".part." + path.name)
    start = time.perf_counter()
    make_synthetic_slide(
        part, size=(size, size), tissue_fraction=tissue, mpp=SLIDE_MPP, kind="ome", levels=5
    )
    part.replace(path)
    return path, time.perf_counter() - start


def ensure_model(cache: Path, depth: int, filters: int) -> Path:
    """The stand-in model folder: an untrained U-Net saved with ``ModelInfo(mpp=0.5)``."""
    folder = cache / f"unet_d{depth}_f{filters}"
    if (folder / "model.keras").is_file():
        return folder
    import keras

    from segkit.models import ModelInfo, build_unet, save_model

    keras.utils.set_random_seed(0)
    model = build_unet((None, None, 3), 2, depth=depth, base_filters=filters)
    save_model(model, folder, ModelInfo(input_shape=(None, None, 3), num_classes=2, mpp=0.5))
    return folder


def _load(model_arg: str):  # type: ignore[no-untyped-def]
    from segkit.models import resolve_model

    return resolve_model(model_arg)


def _warm(model, batch: np.ndarray, n_last: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Trace the model on the shapes it will see (both paths, as bench_predict does)."""
    model.predict_on_batch(batch)
    model.predict(batch, batch_size=len(batch), verbose=0)
    if n_last:
        model.predict(batch[:n_last], verbose=0)


def _time_model_calls(model) -> list[float]:  # type: ignore[no-untyped-def]
    """Time every ``model.predict_on_batch`` call from now on (the seconds go in the list)."""
    seconds: list[float] = []
    call = model.predict_on_batch

    def timed(x):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = call(x)
        seconds.append(time.perf_counter() - start)
        return out

    model.predict_on_batch = timed
    return seconds


def case_slide(args: argparse.Namespace) -> dict:
    """predict_slide over the whole slide; tissue detected first (timed apart)."""
    from segkit.slides import detect_tissue, open_slide, predict_slide

    model, info = _load(args.model)
    with open_slide(args.slide) as slide:
        start = time.perf_counter()
        tissue = detect_tissue(slide)
        tissue_s = time.perf_counter() - start
        channels = 3 if info.color_model == "rgb" else 1
        _warm(model, np.zeros((args.batch_size, args.tile, args.tile, channels), np.float32))
        rss_ready = _rss_mib()
        model_s = _time_model_calls(model)
        out = Path(args.out)
        shutil.rmtree(out, ignore_errors=True)
        start, cpu = time.perf_counter(), time.process_time()
        result = predict_slide(
            model,
            slide,
            out,
            info=info,
            tile_size=args.tile,
            batch_size=args.batch_size,
            tissue=tissue,
            progress=False,
            resume=False,
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        mask_mib = result.path.stat().st_size / 2**20
    shutil.rmtree(out, ignore_errors=True)
    return {
        "size": list(result.size),
        "level": result.level,
        "tile": list(result.tile_size),
        "windows": result.windows,
        "predicted": result.predicted,
        "skipped": result.skipped,
        "skipped_share": result.skipped_share,
        "tissue_s": tissue_s,
        "tissue_fraction": tissue.fraction,
        "wall_s": wall,
        "cpu_s": cpu,
        "tiles_per_s": result.predicted / wall,
        "model_s": sum(model_s),
        "band_mib": result.band_bytes / 2**20,
        "mask_mib": mask_mib,
        "rss_ready_mib": rss_ready,
        "peak_mib": _peak_mib(),
    }


def case_direct(args: argparse.Namespace) -> dict:
    """The same tissue windows read into one stack; only model.predict is timed."""
    from segkit.slides import detect_tissue, open_slide
    from segkit.slides.windows import Batch, plan_windows, read_batches, tissue_test

    model, info = _load(args.model)
    with open_slide(args.slide) as slide:
        tissue = detect_tissue(slide)
        plan, _ = plan_windows(model, slide, info, tile_size=args.tile)
        start = time.perf_counter()
        parts = [
            item.pixels[: len(item.cols)]
            for item in read_batches(
                slide,
                plan,
                test=tissue_test(tissue, slide, plan),
                color_model=info.color_model,
                batch_size=args.batch_size,
            )
            if isinstance(item, Batch)
        ]
        read_s = time.perf_counter() - start
    stack = np.concatenate(parts)
    del parts
    _warm(model, stack[: args.batch_size], len(stack) % args.batch_size)
    rss_ready = _rss_mib()
    start, cpu = time.perf_counter(), time.process_time()
    model.predict(stack, batch_size=args.batch_size, verbose=0)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "predicted": len(stack),
        "stack_mib": stack.nbytes / 2**20,
        "read_s": read_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "tiles_per_s": len(stack) / wall,
        "rss_ready_mib": rss_ready,
        "peak_mib": _peak_mib(),
    }


def run_case(name: str, slide: Path, args: argparse.Namespace) -> dict:
    """Run one case in a fresh interpreter; its result is the last ``RESULT`` line it prints."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--case",
        name,
        "--slide",
        str(slide),
        "--model",
        args.model,
        "--tile",
        str(args.tile),
        "--batch-size",
        str(args.batch_size),
        "--out",
        str(args.cache / f"out_{name}_{slide.stem}"),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        sys.exit(f"case {name} on {slide.name} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1][len(RESULT) :])
    out["process_s"] = time.perf_counter() - start
    return out


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=40_000, help="slide side, level-0 px")
    parser.add_argument("--tissue", type=float, default=0.03, help="share of the area")
    parser.add_argument(
        "--flat-size", type=int, default=None, help="side of the 4x-area slide (default 2 x size)"
    )
    parser.add_argument("--no-flat", action="store_true", help="skip the 4x-area slide")
    parser.add_argument("--model", default="", help="a model (segkit:nuclei, a run or model dir)")
    parser.add_argument("--depth", type=int, default=3, help="stand-in U-Net depth")
    parser.add_argument("--filters", type=int, default=8, help="stand-in U-Net base filters")
    parser.add_argument("--tile", type=int, default=256, help="window side, model pixels")
    parser.add_argument("--batch-size", type=int, default=4, help="as predict_slide")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of the two cases; the fastest of each counts"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--case", choices=("slide", "direct"), help=argparse.SUPPRESS)
    parser.add_argument("--slide", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:  # a child process: one measurement, one line of JSON
        result = (case_slide if args.case == "slide" else case_direct)(args)
        print(RESULT + json.dumps(result), flush=True)
        return

    started = time.perf_counter()
    if not args.model:
        args.model = str(ensure_model(args.cache, args.depth, args.filters))
        model_name = f"stand-in U-Net depth {args.depth}, {args.filters} filters, mpp 0.5"
    else:
        model_name = args.model
    big = args.flat_size or 2 * args.size
    slide, gen_s = ensure_slide(args.cache, args.size, args.tissue)
    print(
        f"slide {args.size:,} x {args.size:,} px at {SLIDE_MPP} µm/px, tissue {args.tissue:.1%}"
        f" ({slide.stat().st_size / 2**20:.0f} MiB"
        + (f", generated in {gen_s:.0f} s" if gen_s else ", cached")
        + f"); model {model_name}; windows {args.tile} px, batch {args.batch_size}",
        flush=True,
    )
    slides, directs = [], []
    for k in range(args.repeat):  # alternately, so that a busy spell weighs on both sides
        slides.append(run_case("slide", slide, args))
        directs.append(run_case("direct", slide, args))
        print(
            f"  round {k + 1}: slide {slides[-1]['tiles_per_s']:.1f} tiles/s, peak"
            f" {slides[-1]['peak_mib']:.0f} MiB | direct {directs[-1]['tiles_per_s']:.1f}"
            f" tiles/s, peak {directs[-1]['peak_mib']:.0f} MiB",
            flush=True,
        )
    sl = min(slides, key=lambda r: r["wall_s"])  # the fastest of each: the least disturbed
    di = min(directs, key=lambda r: r["wall_s"])
    flat = None
    if not args.no_flat:  # generated only now, so the figures above come first
        share = args.tissue * (args.size / big) ** 2
        flat_slide, flat_gen = ensure_slide(args.cache, big, share)
        print(
            f"4x-area slide {big:,} x {big:,} px, tissue {share:.2%}"
            + (f", generated in {flat_gen:.0f} s" if flat_gen else ", cached"),
            flush=True,
        )
        flat = run_case("slide", flat_slide, args)

    ratio = sl["tiles_per_s"] / di["tiles_per_s"]
    cpu_ratio = (sl["predicted"] / sl["cpu_s"]) / (di["predicted"] / di["cpu_s"])
    print(
        f"predict_slide  : {sl['predicted']} windows predicted of {sl['windows']:,} at level"
        f" {sl['level']} in {sl['wall_s']:.1f} s = {sl['tiles_per_s']:.1f} tiles/s"
        f" (tissue detection {sl['tissue_s']:.1f} s apart; mask {sl['mask_mib']:.1f} MiB)"
    )
    print(
        f"  of which     : model {sl['model_s']:.1f} s, the rest (blending, deciding, writing"
        f" the mask and its pyramid, waiting for reads) {sl['wall_s'] - sl['model_s']:.1f} s"
    )
    print(
        f"model.predict  : {di['predicted']} stacked tiles ({di['stack_mib']:.0f} MiB, read in"
        f" {di['read_s']:.1f} s, not timed) in {di['wall_s']:.1f} s = {di['tiles_per_s']:.1f}"
        " tiles/s"
    )
    print(
        f"peak resident  : slide {sl['peak_mib']:.0f} MiB (after loading the model"
        f" {sl['rss_ready_mib']:.0f}, band buffer {sl['band_mib']:.0f})"
        f" | direct {di['peak_mib']:.0f} MiB"
    )
    if flat is not None:
        print(
            f"4x-area slide  : {flat['predicted']} of {flat['windows']:,} windows in"
            f" {flat['wall_s']:.1f} s = {flat['tiles_per_s']:.1f} tiles/s, peak"
            f" {flat['peak_mib']:.0f} MiB (band buffer {flat['band_mib']:.0f})"
        )
    print(
        f"(a) tiles/s predict_slide / model.predict : {ratio:.3f} (target >= 0.85) "
        f"{_verdict(ratio >= 0.85)}"
    )
    print(
        f"    the same per CPU second (all threads)  : {cpu_ratio:.3f} ({sl['cpu_s']:.1f} s"
        f" vs {di['cpu_s']:.1f} s of CPU; best of {args.repeat} rounds each)"
    )
    print(
        f"(b) peak resident memory, slide           : {sl['peak_mib']:.0f} MiB (target <= 2 GB)"
        f" {_verdict(sl['peak_mib'] <= 2048)}"
    )
    if flat is not None:
        growth = flat["peak_mib"] / sl["peak_mib"]
        print(
            f"(b) peak at 4x the area / at 1x           : {growth:.3f}"
            f" ({flat['peak_mib']:.0f} / {sl['peak_mib']:.0f} MiB; target within 15 %)"
            f" {_verdict(abs(growth - 1) <= 0.15)}"
        )
    skipped = f"{sl['skipped_share']:.1%} of {sl['windows']:,}"
    if flat is not None:
        skipped += f"; 4x-area slide {flat['skipped_share']:.1%} of {flat['windows']:,}"
    print(f"(c) windows skipped as glass              : {skipped}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
