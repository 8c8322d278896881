"""Turn one source pair into prepared output files (the work each worker process does).

A worker reads each source file once, hashes its bytes, decodes them, converts the image
to the template's colour model and the mask to classes, finds the instance labels and points
the source has (:mod:`segkit.dataset.targets`), fits all of them to the template size,
encodes them and writes them under the (temporary) output folder. It keeps nothing: the
result is the list of manifest records, so memory stays flat with the number of pairs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segkit.dataset.fit import FittedPair, fit_pair, fit_points
from segkit.dataset.outputs import (
    link_output,
    output_files,
    output_paths,
    part_path,
    write_pair,
    write_part,
)
from segkit.dataset.targets import (
    NO_INSTANCES,
    SourceTargets,
    annotation_targets,
    encode_points,
    instance_labels,
    kaggle_instances,
)
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


@dataclass(frozen=True)
class PairTask:
    """One source pair to prepare.

    ``previous`` holds the manifest records an earlier run wrote for the same source pair
    (same template, name and split part): when the source bytes still hash the same, those
    output files are linked instead of encoded again, unless ``outputs_ok`` is false (an
    output file no longer has the SHA-256 its record lists: it is encoded again).
    """

    name: str
    split: str
    group: str
    image: str
    masks: tuple[str, ...]
    mask_folder: str | None = None
    previous: tuple[dict[str, Any], ...] = ()
    outputs_ok: bool = True
    annotations: str | None = None
    annotation_key: str | None = None

    @property
    def source_annotations(self) -> str:
        """The annotation file (``FILE#KEY`` for a Labelbox export), or ""."""
        if self.annotations is None:
            return ""
        return self.annotations + (f"#{self.annotation_key}" if self.annotation_key else "")


@dataclass(frozen=True)
class TaskContext:
    """What every task shares: folders, the template and limits.

    ``check_only``: write nothing; a pair whose earlier outputs cannot be reused is
    ``"changed"``. ``refuse_changes``: a pair whose source differs from the earlier run (or
    that failed then and decodes now) is ``"changed"``; one whose source is the same but whose
    outputs were damaged is encoded again.
    """

    src: str
    out: str
    template: dict[str, Any]
    max_pixels: int | None
    previous_root: str | None = None
    check_only: bool = False
    refuse_changes: bool = False


@dataclass(frozen=True)
class TaskResult:
    """``status`` is ``"ok"`` (``records``), ``"skip"`` (``problems``) or ``"changed"``."""

    status: str
    records: tuple[dict[str, Any], ...] = ()
    problems: tuple[tuple[str, str], ...] = ()
    reused: bool = False


def _merged_sha(names: tuple[str, ...], digests: list[str]) -> str:
    if len(names) == 1:
        return digests[0]
    h = hashlib.sha256()
    for n, d in zip(names, digests):
        h.update(f"{n}\x00{d}\n".encode())
    return h.hexdigest()


def _same_source(task: PairTask, img_sha: str, mask_sha: str) -> bool:
    return bool(task.previous) and all(
        r.get("source_image_sha256") == img_sha and r.get("source_mask_sha256") == mask_sha
        for r in task.previous
    )


def _reuse(task: PairTask, ctx: TaskContext, img_sha: str, mask_sha: str) -> TaskResult | None:
    prev = task.previous
    if (
        not task.outputs_ok
        or ctx.previous_root is None
        or not _same_source(task, img_sha, mask_sha)
    ):
        return None
    root = Path(ctx.previous_root)
    if not all((root / f).is_file() for r in prev for f in output_files(r)):
        return None
    if not ctx.check_only:
        for r in prev:
            for f in output_files(r):
                link_output(root / f, Path(ctx.out) / f)
    records = tuple(dict(r, group=task.group, split=task.split) for r in prev)
    return TaskResult("ok", records, reused=True)


def _relative_message(exc: Exception, src: Path, rel: str) -> str:
    msg = str(exc)
    full = str(src / rel)
    return msg.replace(full + ": ", "").replace(full, rel)


def process_pair(task: PairTask, ctx: TaskContext) -> TaskResult:
    """Prepare one source pair; never raises for a bad file (it returns ``"skip"``)."""
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
    mask_sha = _merged_sha(names, [hashlib.sha256(b).hexdigest() for b in datas])
    del datas[len(task.masks) :]  # annotation files are read again by their reader
    reused = _reuse(task, ctx, img_sha, mask_sha)
    if reused is not None:
        return reused
    changed = TaskResult("changed", problems=((task.image, "changed since the last run"),))
    if task.previous and (
        ctx.check_only or (ctx.refuse_changes and not _same_source(task, img_sha, mask_sha))
    ):
        return changed

    current = task.image
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
    for fitted in _fit(image, mask, targets.classes, instances, template):
        name = task.name
        if fitted.tile is not None:
            name = f"{task.name}__r{fitted.tile[0]}_c{fitted.tile[1]}"
        record = write_pair(fitted, name, task.split, task.group, template, Path(ctx.out), source)
        if targets.points is not None:
            xy, keep = fit_points(targets.points, fitted, size)
            classes = tuple(c for c, k in zip(targets.point_classes, keep, strict=True) if k)
            record.update(write_part(Path(ctx.out), "points", task.split, name,
                                     encode_points(xy, classes)))  # fmt: skip
        records.append(record)
    return TaskResult("ok", tuple(records))


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
            labels = instance_labels(np.asarray(mask), template.classes)
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
) -> Any:
    """Fit the pair; ``classes`` (rasterised from polygons) stands in for a missing mask."""
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
    return fit_pair(image, classes, template.size, template.fit, instances=instances)
