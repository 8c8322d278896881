"""Train segkit's U-Net on MoNuSeg with ``segkit.train`` on whatever Keras backend is present.

The GPU check of the project: the GPU machine has no TensorFlow, so it runs with
``KERAS_BACKEND=jax`` (or ``torch``), where ``segkit.train`` feeds a ``keras.utils.PyDataset``
instead of ``tf.data`` (``segkit/training/backends.py``). It prepares the data set with
``segkit.dataset.prepare_dataset`` (unless ``--data`` names a prepared one), trains a run
folder with ``segkit.train`` and prints

- the backend, the devices, the distribution and the precision the run recorded;
- seconds per epoch and the total training time;
- Dice on the held-out test part (mean per tile and pooled over all test pixels);
- training throughput: images/s of ``segkit.train``'s epochs (training phase only, the first
  epoch, which compiles, left out) against a bare ``model.fit`` of the same model on the same
  tiles held in memory; the input pipeline's (and bookkeeping's) share of the step time is
  ``1 - bare / segkit`` (0 when the step never waits on input); model FLOPs per image
  (``segkit.models.count_flops``, x3 for a training step) give the model FLOP utilisation
  against the device's dense bf16 peak (``--peak-tflops``, known for H100 / H200 / A100);
- tiled prediction of a 4096 x 4096 image vs ``model.predict`` on the same tiles stacked.

On the GPU machine::

    KERAS_BACKEND=jax python benchmarks/gpu_monuseg.py --source ../shared/data/monuseg2018-train \
        --epochs 100

``--pack-to DIR`` writes a lossless WebP copy of ``--source`` (what ``gpu_check.sh pack``
carries: the GPU machine has no ``../shared/data``) and ``--unpack-to DIR`` turns it back into a
MoNuSeg folder of TIFFs there.

On a CPU, in a minute (4 source images, 1 epoch, a small model)::

    KERAS_BACKEND=jax python benchmarks/gpu_monuseg.py --source ../shared/data/monuseg2018-train \
        --limit 4 --epochs 1 --depth 2 --base-filters 4 --predict-size 512 --out /tmp/gpu_out
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

#: MoNuSeg at 40x cut into 256 x 256 tiles; 70 / 10 / 20 % of the images for train / val / test.
TEMPLATE = {
    "height": 256,
    "width": 256,
    "fit": "tile",
    "image_type": "jpg",
    "split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 1},
}


def _arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--source", help="the MoNuSeg folder (Tissue_Images, Binary_masks)")
    where.add_argument("--data", help="a data set prepared already (skips preparing)")
    ap.add_argument("--limit", type=int, help="prepare only the first N source images")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--base-filters", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--no-mixed-precision", action="store_true")
    ap.add_argument("--bf16", action="store_true", help="mixed_bfloat16 instead of mixed_float16")
    ap.add_argument("--predict-size", type=int, default=4096, help="side of the timed image")
    ap.add_argument("--out", default="gpu_out", help="where the data, run and summary go")
    ap.add_argument("--predict-only", action="store_true", help="time prediction only (untrained)")
    ap.add_argument("--prepare-only", action="store_true", help="prepare OUT/prepared and stop")
    ap.add_argument(
        "--pack-to", default=None,
        help="write a lossless WebP copy of --source here (what gpu_check.sh carries) and stop",
    )  # fmt: skip
    ap.add_argument(
        "--unpack-to", default=None,
        help="turn the --source packed by --pack-to into a MoNuSeg folder here and stop",
    )  # fmt: skip
    ap.add_argument(
        "--peak-tflops", type=float, default=None,
        help="the device's dense bf16 peak for MFU (default: known GPUs by name)",
    )  # fmt: skip
    ap.add_argument("--bare-epochs", type=int, default=4, help="epochs of the bare model.fit")
    return ap.parse_args()


#: Dense bf16 peaks (TFLOP/s, without sparsity) of the GPUs the MFU figure knows by name.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}


def peak_tflops(devices: list[dict[str, str]]) -> float | None:
    """The dense bf16 peak of the first GPU in ``devices`` whose name is known, else None."""
    for device in devices:
        name = device.get("name", "").upper()
        for key, value in PEAK_BF16_TFLOPS.items():
            if key in name:
                return value
    return None


def _training_phase_timer():
    import keras

    class TrainingPhase(keras.callbacks.Callback):
        """Seconds of each epoch's training phase: epoch begin to validation begin, once the
        device has finished the epoch's last step (JAX dispatches steps ahead of the device)."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start: float | None = None

        def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001
            self._start = time.perf_counter()

        def _stop(self) -> None:
            if self._start is not None:
                keras.ops.convert_to_numpy(self.model.optimizer.iterations)  # waits for it
                self.seconds.append(time.perf_counter() - self._start)
                self._start = None

        def on_test_begin(self, logs=None):  # noqa: ANN001
            self._stop()

        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            self._stop()

    return TrainingPhase()


def _warm(seconds: list[float]) -> float:
    """The median epoch after the first (which compiles), or the only one."""
    import statistics

    return statistics.median(seconds[1:] or seconds)


def throughput(
    data: Path,
    config,  # noqa: ANN001
    precision: str,
    segkit_seconds: list[float],
    devices: list[dict[str, str]],
    *,
    bare_epochs: int = 4,
    peak: float | None = None,
) -> dict:
    """segkit.train's images/s against a bare model.fit on in-memory tiles, input share, MFU."""
    import keras

    from segkit.dataset import load_manifest
    from segkit.instances.targets import output_class_names
    from segkit.models.flops import TRAINING_FACTOR, count_flops
    from segkit.training.loading import load_arrays
    from segkit.training.loop import build_model

    manifest = load_manifest(data)
    pairs = manifest.split("train")
    x, y = load_arrays(manifest, pairs)
    classes = len(output_class_names(manifest.template))
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = build_model(config, manifest.template.channels, classes)
        timer = _training_phase_timer()
        model.fit(
            x.astype("float32"), y[..., None] if y.ndim == 3 else y,
            batch_size=config.batch_size, epochs=max(2, bare_epochs),
            callbacks=[timer], shuffle=True, verbose=0,
        )  # fmt: skip
    finally:
        keras.mixed_precision.set_global_policy("float32")
    images = len(pairs)
    segkit_epoch, bare_epoch = _warm(segkit_seconds), _warm(timer.seconds)
    flops = count_flops(model, x.shape[1:])
    step_flops = TRAINING_FACTOR * flops
    achieved = step_flops * images / segkit_epoch / 1e12
    peak = peak or peak_tflops(devices)
    return {
        "train_images_per_epoch": images,
        "segkit_images_per_s": round(images / segkit_epoch, 1),
        "bare_fit_images_per_s": round(images / bare_epoch, 1),
        "input_share": round(max(0.0, 1.0 - bare_epoch / segkit_epoch), 3),
        "forward_gflops_per_image": round(flops / 1e9, 3),
        "achieved_tflops": float(f"{achieved:.3g}"),
        "peak_tflops": peak,
        "mfu": float(f"{achieved / peak:.3g}") if peak else None,
        "bare_fit_mfu": float(f"{step_flops * images / bare_epoch / 1e12 / peak:.3g}")
        if peak
        else None,
    }


def pack_source(source: Path, dest: Path) -> Path:
    """A lossless copy of the MoNuSeg folder ``source`` with its images as WebP (1.3 MB each
    against 2.3 MB of TIFF and 1.7 MB of PNG), small enough to travel to the GPU machine with
    the checkout (64 MiB in all). ``unpack_source`` turns it back into TIFFs there.

    Every image is decoded again after writing and must equal the source pixel for pixel;
    ``dest`` is written whole into a temporary folder first, so an interrupted copy leaves
    nothing half-done under ``dest``.
    """
    from PIL import Image

    from segkit.imaging import read_image

    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "Tissue_Images").mkdir(parents=True)
    shutil.copytree(source / "Binary_masks", tmp / "Binary_masks")
    for image in sorted((source / "Tissue_Images").glob("*.tif")):
        pixels = read_image(image)
        target = tmp / "Tissue_Images" / f"{image.stem}.webp"
        Image.fromarray(pixels).save(target, lossless=True, quality=100, method=4)
        with Image.open(target) as written:
            if not np.array_equal(np.asarray(written.convert("RGB")), pixels):
                raise SystemExit(f"gpu_monuseg: {target}: the WebP copy differs from {image}")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def unpack_source(packed: Path, dest: Path) -> Path:
    """The MoNuSeg folder again from ``pack_source``'s copy: TIFF images (the source's pixels,
    uncompressed) and the masks, so that every script reads it as it reads the source."""
    import tifffile
    from PIL import Image

    (dest / "Tissue_Images").mkdir(parents=True, exist_ok=True)
    shutil.copytree(packed / "Binary_masks", dest / "Binary_masks", dirs_exist_ok=True)
    for image in sorted((packed / "Tissue_Images").glob("*.webp")):
        with Image.open(image) as im:
            tifffile.imwrite(
                dest / "Tissue_Images" / f"{image.stem}.tif", np.asarray(im.convert("RGB"))
            )
    return dest


def prepare(source: Path, out: Path, limit: int | None) -> Path:
    """The prepared data set under ``out``: all of ``source``, or its first ``limit`` images."""
    from segkit.dataset import prepare_dataset

    if limit:
        subset = out / f"source-first-{limit}"
        for folder in ("Tissue_Images", "Binary_masks"):
            (subset / folder).mkdir(parents=True, exist_ok=True)
        for image in sorted((source / "Tissue_Images").iterdir())[:limit]:
            for folder, name in (
                ("Tissue_Images", image.name),
                ("Binary_masks", image.stem + ".png"),
            ):
                shutil.copy2(source / folder / name, subset / folder / name)
        source = subset
    prepared = out / "prepared"
    prepare_dataset(source, prepared, TEMPLATE, overwrite=True, progress=False)
    return prepared


def main() -> None:
    args = _arguments()
    if args.pack_to or args.unpack_to:
        if not args.source:
            raise SystemExit("gpu_monuseg: --pack-to and --unpack-to need --source")
        if args.pack_to:
            print(f"packed into {pack_source(Path(args.source), Path(args.pack_to))}")
        else:
            print(f"unpacked into {unpack_source(Path(args.source), Path(args.unpack_to))}")
        return
    import keras

    from segkit.evaluation import evaluate
    from segkit.training import TrainConfig, train

    out = Path(args.out)
    data = Path(args.data) if args.data else prepare(Path(args.source), out, args.limit)
    if args.prepare_only:
        print(f"prepared {data}")
        return
    if args.predict_only:
        print(json.dumps(_bench_untrained(data, args, out / "untrained"), indent=2))
        return
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        depth=args.depth,
        base_filters=args.base_filters,
        learning_rate=args.learning_rate,
        loss="bce_dice",
        patience=0,
        mixed_precision="off" if args.no_mixed_precision else "bf16" if args.bf16 else "auto",
        sample_figures=0,
    )
    started = time.perf_counter()
    timer = _training_phase_timer()
    run = train(
        data, config, runs_dir=out / "runs", run_id="monuseg", verify=False, callbacks=[timer]
    )
    wall = time.perf_counter() - started
    env = run.environment
    train_s = float(run.metrics["train_seconds_last_session"])
    print(
        f"backend {env['backend']} (keras {keras.__version__}), devices "
        f"{[d['name'] for d in env['devices']]}, {env['strategy']} x{env['replicas']}, "
        f"{env['precision']}"
    )
    print(f"training: {train_s:.1f} s, {train_s / args.epochs:.2f} s/epoch (first: compilation)")
    result = evaluate(run.path, data, split="test", output_dir=out / "evaluation")
    summary = {
        "backend": env["backend"],
        "devices": env["devices"],
        "strategy": env["strategy"],
        "precision": env["precision"],
        "epochs": args.epochs,
        "train_seconds": round(train_s, 1),
        "wall_seconds": round(wall, 1),
        "test_dice_mean_per_tile": result.summary["mean"]["dice"],
        "test_dice_pooled": _pooled_dice(run.path, data),
        "test_object_f1_mean": result.summary["mean"].get("object_f1"),
        "final_val_dice": float(run.history.get("val_dice", [float("nan")])[-1]),
    }
    summary.update(
        throughput(
            data, config, env["precision"], timer.seconds, env["devices"],
            bare_epochs=args.bare_epochs, peak=args.peak_tflops,
        )
    )  # fmt: skip
    summary.update(_bench_predict(run.path, args.predict_size))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


def _bench_untrained(data: Path, args: argparse.Namespace, model_dir: Path) -> dict[str, float]:
    from segkit.dataset import load_manifest
    from segkit.models import ModelInfo, build_unet, save_model

    manifest = load_manifest(data)
    shape = (None, None, manifest.template.channels)
    model = build_unet(shape, 2, depth=args.depth, base_filters=args.base_filters)
    save_model(model, model_dir, ModelInfo.from_manifest(manifest))
    return _bench_predict(model_dir, args.predict_size)


def _pooled_dice(model_dir: Path, data: Path) -> float:
    """Dice over all test pixels at once (the way most MoNuSeg papers report it per image set)."""
    from segkit.dataset import load_manifest, load_pair
    from segkit.inference import predict
    from segkit.models import load_model

    model, info = load_model(model_dir)
    manifest = load_manifest(data)
    inter = total = 0
    for pair in manifest.split("test"):
        image, mask = load_pair(manifest, pair)
        pred = predict(model, image, info=info)
        inter += int(np.sum((pred == 1) & (mask == 1)))
        total += int(np.sum(pred == 1) + np.sum(mask == 1))
    return 2 * inter / total if total else 1.0


def _bench_predict(model_dir: Path, size: int = 4096) -> dict[str, float]:
    """Tiled prediction of a ``size`` x ``size`` image vs model.predict on the same tiles."""
    from segkit.inference import predict, tile_grid
    from segkit.models import load_model

    model, info = load_model(model_dir)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    tile = 256
    grid = tile_grid(image.shape[:2], (tile, tile), 0.25)
    stack = np.stack([image[r : r + tile, c : c + tile] for r, c in grid])  # uint8, as tiled
    predict(model, image[:512, :512], info=info, tile_size=tile, batch_size=16)  # warm-up
    model.predict(stack[:16], batch_size=16, verbose=0)
    from segkit.inference import sliding_window

    ready = np.zeros((16, tile, tile, 1), dtype=np.float32)
    tiled = direct = host = float("inf")
    for _ in range(3):  # best of three, alternating
        t0 = time.perf_counter()  # the host's part alone: a predictor that returns at once
        sliding_window(
            lambda b: ready[: len(b)], image, (tile, tile), overlap=0.25, batch_size=16,
            pad_batches=False,
        )  # fmt: skip
        host = min(host, time.perf_counter() - t0)
        t0 = time.perf_counter()
        predict(model, image, info=info, tile_size=tile, overlap=0.25, batch_size=16)
        tiled = min(tiled, time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.predict(stack, batch_size=16, verbose=0)
        direct = min(direct, time.perf_counter() - t0)
    return {
        f"predict_{size}_tiled_s": round(tiled, 2),
        f"predict_{size}_stacked_s": round(direct, 2),
        "predict_ratio": round(tiled / direct, 2),
        f"predict_{size}_host_only_s": round(host, 3),
        "tiles": len(grid),
    }


if __name__ == "__main__":
    main()
