"""Turn one source pair into prepared output files (the work each worker process does).

A worker reads each source file once, hashes its bytes, decodes them, converts the image
to the template's colour model and the mask to classes, finds the instance labels and points
the source has (:mod:`segkit.dataset.targets`), fits all of them to the template size,
encodes them and writes them under the (temporary) output folder. It keeps nothing: the
result is the list of manifest records, so memory stays flat with the number of pairs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segkit.dataset.fit import FittedPair, fit_pair, fit_points
from segkit.dataset.outputs import (
    output_files,
    output_paths,
    part_path,
    write_pair,
    write_part,
)
from segkit.dataset.slide_tiles import process_slide
from segkit.dataset.source_mpp import annotation_mpp, missing_mpp, mpp_fields, rescale_factor
from segkit.dataset.targets import (
    NO_INSTANCES,
    SourceTargets,
    annotation_targets,
    encode_points,
    instance_labels,
    kaggle_instances,
)
from segkit.dataset.tasks import PairTask, TaskContext, TaskResult, merged_sha, reuse_or_refuse
from segkit.imaging import (
    ImageReadError,
    decode_image,
    decode_mask,
    decode_pil,
    mask_to_classes,
    merge_masks,
    pil_resample,
    resize_mask,
    to_color_model,
    to_uint8,
)
from segkit.template import DatasetTemplate

__all__ = [
    "PairTask",
    "TaskContext",
    "TaskResult",
    "output_files",
    "output_paths",
    "part_path",
    "process_pair",
]


def _relative_message(exc: Exception, src: Path, rel: str) -> str:
    msg = str(exc)
    full = str(src / rel)
    return msg.replace(full + ": ", "").replace(full, rel)


def _labels_sha(labels: tuple[tuple[int, str], ...]) -> str:
    return hashlib.sha256(json.dumps([list(p) for p in labels]).encode("utf-8")).hexdigest()


def process_pair(task: PairTask, ctx: TaskContext) -> TaskResult:
    """Prepare one source pair; never raises for a bad file (it returns ``"skip"``)."""
    if task.slide:
        return process_slide(task, ctx)
    src = Path(ctx.src)
    template = _template(ctx)
    files = (*task.masks, *((task.annotations,) if task.annotations else ()))
    try:
        img_bytes = (src / task.image).read_bytes()
        datas = [(src / f).read_bytes() for f in files]
    except OSError as exc:
        return TaskResult("skip", problems=((task.image, f"cannot read ({exc.strerror})"),))
    img_sha = hashlib.sha256(img_bytes).hexdigest()
    names = (*task.masks, *((task.source_annotations,) if task.annotations else ()))
    digests = [hashlib.sha256(b).hexdigest() for b in datas]
    if ctx.point_labels is not None and task.annotations:
        # the class names of the points are part of the source: a new mapping re-encodes them
        names, digests = (*names, "point_labels"), [*digests, _labels_sha(ctx.point_labels)]
    mask_sha = merged_sha(names, digests)
    del datas[len(task.masks) :]  # annotation files are read again by their reader
    current = task.image
    try:
        source_mpp = _source_mpp(task, ctx)
    except ValueError as exc:
        current = task.annotations or task.image
        return TaskResult("skip", problems=((current, _relative_message(exc, src, current)),))
    if template.mpp is not None and source_mpp is None:
        return TaskResult("refuse", problems=((task.image, missing_mpp(template.mpp)),))
    decided = reuse_or_refuse(
        task, ctx, img_sha, mask_sha, source_mpp=source_mpp, template_mpp=template.mpp
    )
    if decided is not None:
        return decided
    changed = TaskResult("changed", problems=((task.image, "changed since the last run"),))
    try:
        image = _decode_image(img_bytes, src / task.image, ctx.max_pixels, template.color_model)
        del img_bytes
        mask, instances, current = _decode_masks(task, datas, src, ctx.max_pixels, template)
        del datas
        targets = SourceTargets()
        if task.annotations:
            current = task.annotations
            targets = annotation_targets(
                src / task.annotations,
                task.annotation_key,
                _size(image),
                template,
                has_mask=bool(task.masks),
                point_labels=ctx.point_labels,
            )
    except (ImageReadError, ValueError) as exc:
        return TaskResult("skip", problems=((current, _relative_message(exc, src, current)),))
    size = _size(image)
    if mask is not None and size != _size(mask):
        h, w = size
        mh, mw = _size(mask)
        return TaskResult(
            "skip",
            problems=((task.image, f"image is {w}x{h} but its mask {current} is {mw}x{mh}"),),
        )
    if targets.instances is not None:
        instances = targets.instances
    if template.target == "instances" and instances is None:
        return TaskResult("skip", problems=((task.image, NO_INSTANCES),))
    if ctx.refuse_changes and not task.previous:  # it failed last time and decodes now
        return changed
    source = {
        "source_image": task.image,
        "source_mask": task.mask_folder or (task.masks[0] if task.masks else ""),
        "source_image_sha256": img_sha,
        "source_mask_sha256": mask_sha,
        "source_size": [int(size[0]), int(size[1])],
    }
    if task.annotations:
        source["source_annotations"] = task.source_annotations
    records = []
    factor = rescale_factor(source_mpp, template.mpp)
    for fitted in _fit(image, mask, targets.classes, instances, template, factor):
        name = task.name
        if fitted.tile is not None:
            name = f"{task.name}__r{fitted.tile[0]}_c{fitted.tile[1]}"
        here = {**source, **mpp_fields(source_mpp, template.mpp, fitted.scale)}
        record = write_pair(fitted, name, task.split, task.group, template, Path(ctx.out), here)
        if targets.points is not None:
            xy, keep = fit_points(targets.points, fitted, size)
            classes = tuple(c for c, k in zip(targets.point_classes, keep, strict=True) if k)
            record.update(write_part(Path(ctx.out), "points", task.split, name,
                                     encode_points(xy, classes)))  # fmt: skip
        records.append(record)
    return TaskResult("ok", tuple(records))


def _source_mpp(task: PairTask, ctx: TaskContext) -> float | None:
    """The pair's microns per pixel: its Aperio XML's, else ``SourceLayout.mpp``."""
    found = annotation_mpp(Path(ctx.src) / task.annotations) if task.annotations else None
    return found if found is not None else ctx.source_mpp


def _decode_masks(
    task: PairTask,
    datas: list[bytes],
    src: Path,
    max_pixels: int | None,
    template: DatasetTemplate,
) -> tuple[Any, np.ndarray | None, str]:
    """The source mask (a Pillow image or an ndarray, None without mask files), the instance
    labels the mask files hold (or None), and the file last read (for messages)."""
    if not task.masks:
        return None, None, task.image
    current = task.masks[0]
    if not task.annotations:
        mask = _decode_grey_mask(datas, src / current, max_pixels, template)
        if mask is not None:
            labels = instance_labels(mask, template.classes)
            return mask, labels, current
    masks = []
    for rel, data in zip(task.masks, datas, strict=True):
        current = rel
        masks.append(decode_mask(data, src / rel, max_pixels=max_pixels))
    datas.clear()
    if len(masks) > 1:
        current = task.mask_folder or task.masks[0]
        instances = kaggle_instances(masks)
        return merge_masks(masks), instances, current
    return masks[0], instance_labels(masks[0], template.classes), current


def _is_pil(image: Any) -> bool:
    return not isinstance(image, np.ndarray)


def _size(image: Any) -> tuple[int, int]:
    return (image.height, image.width) if _is_pil(image) else image.shape[:2]


_TEMPLATES: dict[str, DatasetTemplate] = {}


def _template(ctx: TaskContext) -> DatasetTemplate:
    key = repr(ctx.template)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = DatasetTemplate.from_dict(ctx.template)
    return _TEMPLATES[key]


def _decode_grey_mask(
    datas: list[bytes], path: Path, max_pixels: int | None, template: DatasetTemplate
) -> Any:
    """The common case kept in Pillow: one 8-bit grey mask, fit ``stretch``. Else None."""
    if len(datas) != 1 or template.fit != "stretch":
        return None
    im = decode_pil(datas[0], path, max_pixels=max_pixels)
    return im if im.mode == "L" else None


_PIL_8BIT = ("L", "RGB", "RGBA", "P", "LA", "1", "CMYK", "YCbCr")


def _decode_image(data: bytes, path: Path, max_pixels: int | None, color_model: str) -> Any:
    """The source image in the template's channels: a Pillow image for 8-bit sources (no
    array copies on the common path), else a uint8 ndarray (16-bit or float scaled)."""
    im = None
    try:
        im = decode_pil(data, path, max_pixels=max_pixels)
    except ImageReadError as exc:
        if "exceeds the limit" in str(exc) or path.suffix.lower() not in (".tif", ".tiff"):
            raise
    if im is not None and im.mode in _PIL_8BIT:
        want = "RGB" if color_model == "rgb" else "L"
        return im if im.mode == want else im.convert(want)
    arr = decode_image(data, path, max_pixels=max_pixels)
    return to_color_model(to_uint8(arr), color_model)


def _fit(
    image: Any,
    mask: Any,
    classes: np.ndarray | None,
    instances: np.ndarray | None,
    template: DatasetTemplate,
    rescale: float = 1.0,
) -> Any:
    """Fit the pair; ``classes`` (rasterised from polygons) stands in for a missing mask.

    ``rescale`` (``source mpp / template mpp``) resizes the pair before it is tiled."""
    if _is_pil(image) and template.fit == "stretch" and instances is None and classes is None:
        # Nearest-neighbour resizing commutes with mapping values to classes, so map the
        # (smaller) resized mask.
        rows, cols = template.size
        h, w = image.height, image.width
        if (h, w) != (rows, cols):
            image = image.resize((cols, rows), pil_resample((h, w), (rows, cols)))
        small = None
        if mask is not None and _is_pil(mask):
            small = np.asarray(mask.resize((cols, rows), Image.Resampling.NEAREST))
        elif mask is not None:
            small = resize_mask(mask, (rows, cols))
        mapped = None if small is None else mask_to_classes(small, template.classes)
        return [FittedPair(image, mapped, (rows / h, cols / w))]
    if _is_pil(image):
        image = np.asarray(image)
    if mask is not None:
        classes = mask_to_classes(np.asarray(mask), template.classes)
    return fit_pair(
        image, classes, template.size, template.fit, instances=instances, rescale=rescale
    )
