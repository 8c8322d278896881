"""``segkit predict``: masks (and overlays) for raw images of any size."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from segkit.imaging import IMAGE_EXTENSIONS

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="predict masks for images of any size with a saved model or run",
        description=(
            "Applies the model's colour model and scale to each raw image, predicts it by "
            "Gaussian-blended sliding windows and writes a mask of the raw size in the "
            "template's encoding ({0,255} binary, class indices otherwise)."
        ),
    )
    p.add_argument(
        "model",
        help="a run folder, a model folder, a .keras file, an .onnx file written by segkit "
        "export (run by ONNX Runtime) or segkit:nuclei (bundled)",
    )
    p.add_argument("images", nargs="+", help="image files or folders of images")
    p.add_argument(
        "--output",
        "-o",
        required=True,
        help="output folder (NAME.png per image), or a .png file for a single image",
    )
    p.add_argument(
        "--overlay", action="store_true", help="also write NAME_overlay.png (objects outlined)"
    )
    p.add_argument(
        "--instances",
        action="store_true",
        help="also separate the objects (nuclei) and write NAME_instances.tif (uint16/uint32 "
        "labels: 0 background, 1..N); for a whole slide, NAME.geojson (QuPath detections, "
        "streamed band by band)",
    )
    p.add_argument("--tta", action="store_true", help="average over flips (4x slower)")
    p.add_argument("--tile-size", type=int, help="sliding-window tile (default: training size)")
    p.add_argument("--overlap", type=float, default=0.25, help="tile overlap (default 0.25)")
    p.add_argument("--batch-size", type=int, default=4, help="tiles per batch (default 4)")
    p.add_argument("--threshold", type=float, help="foreground threshold (binary models)")
    p.add_argument(
        "--mpp",
        type=float,
        help="microns per pixel of the images; rescales them to the model's own when it "
        "records one (otherwise the training scale is applied)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="refuse images with more pixels (default: segkit's decompression-bomb limit)",
    )
    p.set_defaults(func=run)


def _expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not found:
                raise FileNotFoundError(f"{p}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such image file or folder")
    return files


def run(args: argparse.Namespace) -> int:
    from segkit.files import check_output_file
    from segkit.imaging import DEFAULT_MAX_PIXELS, read_image
    from segkit.inference import predict, save_mask, save_overlay
    from segkit.models import resolve_model

    images = _expand(args.images)
    out = Path(args.output)
    single_file = out.suffix.lower() == ".png"
    if single_file and len(images) > 1:
        raise ValueError(f"--output {out} is a file but {len(images)} images were given")
    stems = [p.stem for p in images]
    if not single_file and len(set(stems)) != len(stems):
        raise ValueError("two input images share a file name; predict them separately")
    if single_file:
        check_output_file(out)
    else:
        check_output_file(out / "probe.png")
    model, info = resolve_model(args.model)
    slides = [p for p in images if _is_slide(p, args.max_pixels or DEFAULT_MAX_PIXELS)]
    if slides and single_file:
        raise ValueError(f"{slides[0]} is a whole slide: give an output folder, not a .png")
    for path in slides:
        _predict_slide(model, info, path, out, args)
    info = info.at_mpp(args.mpp)
    for path in (p for p in images if p not in slides):
        image = read_image(path, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS)
        target = out if single_file else out / f"{path.stem}.png"
        options = {"tile_size": args.tile_size, "overlap": args.overlap, "tta": args.tta,
                   "threshold": args.threshold}  # fmt: skip
        if args.instances:
            from segkit.instances import predict_instance_map, save_instances

            found = predict_instance_map(model, image, info=info, **options)
            mask = _mask(found, args.threshold)
            labels = target.with_name(f"{target.stem}_instances.tif")
            save_instances(labels, found.labels)
            print(f"{path} -> {labels} ({found.count} objects)")
        else:
            mask = predict(model, image, info=info, batch_size=args.batch_size, **options)
        save_mask(target, mask, info.mask_classes)
        print(f"{path} -> {target}")
        if args.overlay:
            over = target.with_name(f"{target.stem}_overlay.png")
            save_overlay(over, image, mask)
            print(f"{path} -> {over}")
    return 0


def _is_slide(path: Path, max_pixels: int) -> bool:
    """Whether ``path`` goes the streaming slide path (:func:`segkit.slides.is_slide_file`)."""
    try:
        from segkit.slides.readers import is_slide_file
    except ImportError:  # the slides extra is not installed: plain images only
        return False
    return bool(is_slide_file(path, max_pixels=max_pixels))


def _predict_slide(model: Any, info: Any, path: Path, out: Path, args: Any) -> None:
    """Stream one slide: tissue, windows over tissue, a pyramidal OME-TIFF mask.

    With ``--instances`` the same prediction also gives the nuclei (``NAME.geojson``): each
    window is predicted once for both. An interrupted run continues, the mask from its first
    band not stored and the nuclei after their last pass saved (``.NAME.nuclei/``).
    """
    from segkit.slides import (
        detect_tissue,
        open_slide,
        save_tissue_png,
        slide_name,
        tissue_png_name,
    )
    from segkit.slides.predict import SlideMaskStream

    slide = open_slide(path)
    try:
        if args.mpp and slide.mpp is None:
            slide.mpp = (float(args.mpp), float(args.mpp))
        tissue = detect_tissue(slide)
        tissue_png = save_tissue_png(out / tissue_png_name(path), tissue.thumbnail, tissue)
        stream = SlideMaskStream(
            model, slide, out, info=info, tile_size=args.tile_size, overlap=args.overlap,
            batch_size=args.batch_size, tissue=(tissue.mask, tissue.downsample),
        )  # fmt: skip
        target = out / f"{slide_name(path)}.geojson"
        count = _slide_detections(stream, info, target, args) if args.instances else None
        if count is None:
            for _ in stream:
                pass
    finally:
        slide.close()
    result = stream.result
    assert result is not None
    print(f"{path} -> {result.path} ({result.size[0]}x{result.size[1]}, level {result.level}, "
          f"{result.predicted} of {result.windows} windows, {100 * result.skipped_share:.0f}% "
          f"glass skipped, {result.seconds:.0f} s)")  # fmt: skip
    if result.assumed_scale:
        print(f"{path}: {result.assumed_scale}")
    print(f"{path} -> {tissue_png} (tissue outline); name {slide_name(path)}")
    if count is not None:
        print(f"{path} -> {target} ({count} objects)")


#: Colours of the classes of ``predict --instances`` detections, in class order.
_DETECTION_COLOURS = ((30, 90, 255), (220, 60, 20), (40, 170, 60), (200, 140, 0), (150, 60, 200))


def _slide_detections(stream: Any, info: Any, target: Path, args: Any) -> int:
    """Stream a slide's nuclei into ``target`` as QuPath detections (class: the model's).

    The nuclei come from the bands of ``stream`` (a :class:`SlideMaskStream`), which writes
    the mask meanwhile; each pass is saved in ``.NAME.nuclei/`` so an interrupted run
    continues. Returns the number of nuclei.
    """
    from segkit.annotations.geometry import Annotation, Polygon
    from segkit.annotations.qupath_geojson import write_qupath_geojson
    from segkit.instances.predict import nucleus_classes
    from segkit.ki67.outlines import nucleus_outlines
    from segkit.slides import slide_name
    from segkit.slides.cells import SlideNuclei
    from segkit.slides.nuclei_resume import NucleiProgress, saved_passes

    names = list(info.class_names[1 : info.mask_classes]) or ["nucleus"]
    colours = {n: _DETECTION_COLOURS[i % len(_DETECTION_COLOURS)] for i, n in enumerate(names)}
    nuclei = SlideNuclei(
        stream.model, stream.slide, info=stream.info, tile_size=stream.plan.tile,
        overlap=args.overlap, batch_size=args.batch_size, tissue=stream.tissue,
        threshold=args.threshold,
    )  # fmt: skip
    if nuclei.plan != stream.plan:
        raise ValueError(f"{stream.slide.path}: the nuclei and the mask planned other windows")
    settings = nuclei.settings() | {"records": "detections", "classes": names}
    progress = NucleiProgress(target.parent, slide_name(stream.slide.path), settings)

    def records(band: Any) -> list[Any]:
        labels = band.kept_labels()
        ids, classes = nucleus_classes(labels, band.proba, nuclei.info)
        outlines = nucleus_outlines(labels, ids, origin=(band.top, 0), scale=band.to_full())
        return [
            [names[min(int(c), len(names)) - 1], np.asarray(outlines[k]).tolist()]
            for k, c in zip(ids.tolist(), classes.tolist(), strict=True)
            if k in outlines
        ]

    bands = None
    if not progress.finished and not stream.finished:  # one prediction for both
        stream.restart_at(nuclei.resume_band(progress.state))
        bands = stream
    saved_passes(nuclei, progress, records, bands)
    if bands is None:
        for _ in stream:  # the mask, if it is not finished
            pass

    def detections() -> Any:
        for found in progress.records():
            for name, outline in found:
                yield Annotation(Polygon(np.asarray(outline)), class_name=name,
                                 object_type="detection")  # fmt: skip

    count = int(write_qupath_geojson(target, detections(), colors=colours))
    progress.discard()
    return count


def _mask(found: Any, threshold: float | None) -> Any:
    """The mask :func:`segkit.inference.predict` gives, from the probabilities already found."""
    from segkit.decision import model_mask

    t = found.info.threshold if threshold is None else threshold
    return model_mask(found.proba, threshold=t, target=found.info.target)
