"""Turn one source pair into prepared output files (the work each worker process does).

A worker reads each source file once, hashes its bytes, decodes them, converts the image
to the template's colour model and the mask to classes, fits both to the template size,
encodes them and writes them under the (temporary) output folder. It keeps nothing: the
result is the list of manifest records, so memory stays flat with the number of pairs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segkit.dataset.fit import FittedPair, fit_pair
from segkit.imaging import (
    ImageReadError,
    binarize,
    decode_image,
    decode_mask,
    decode_pil,
    encode_image,
    encode_mask,
    mask_to_classes,
    merge_masks,
    pil_resample,
    resize_mask,
    to_color_model,
    to_uint8,
)
from segkit.template import DatasetTemplate

__all__ = ["PairTask", "TaskContext", "TaskResult", "process_pair", "output_paths"]


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


def output_paths(template: DatasetTemplate, split: str, name: str) -> tuple[str, str]:
    """Relative paths of the image and mask of pair ``name`` in split part ``split``."""
    if template.layout == "separate":
        return (
            f"{split}/images/{template.image_name(name)}",
            f"{split}/masks/{template.mask_name(name)}",
        )
    return f"{split}/{template.image_name(name)}", f"{split}/{template.mask_name(name)}"


def _merged_sha(names: tuple[str, ...], digests: list[str]) -> str:
    if len(names) == 1:
        return digests[0]
    h = hashlib.sha256()
    for n, d in zip(names, digests):
        h.update(f"{n}\x00{d}\n".encode())
    return h.hexdigest()


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copyfile(src, dst)


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
    if not all((root / r["image"]).is_file() and (root / r["mask"]).is_file() for r in prev):
        return None
    if not ctx.check_only:
        for r in prev:
            _link(root / r["image"], Path(ctx.out) / r["image"])
            _link(root / r["mask"], Path(ctx.out) / r["mask"])
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
    try:
        img_bytes = (src / task.image).read_bytes()
        mask_bytes = [(src / m).read_bytes() for m in task.masks]
    except OSError as exc:
        return TaskResult("skip", problems=((task.image, f"cannot read ({exc.strerror})"),))
    img_sha = hashlib.sha256(img_bytes).hexdigest()
    mask_sha = _merged_sha(task.masks, [hashlib.sha256(b).hexdigest() for b in mask_bytes])
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
        current = task.masks[0]
        mask = _decode_grey_mask(mask_bytes, src / current, ctx.max_pixels, template)
        if mask is None:
            masks = []
            for rel, data in zip(task.masks, mask_bytes):
                current = rel
                masks.append(decode_mask(data, src / rel, max_pixels=ctx.max_pixels))
            current = task.mask_folder or task.masks[0]
            mask = merge_masks(masks)
            del masks
        del mask_bytes
    except (ImageReadError, ValueError) as exc:
        return TaskResult("skip", problems=((current, _relative_message(exc, src, current)),))
    size = _size(image)
    if size != _size(mask):
        h, w = size
        mh, mw = _size(mask)
        return TaskResult(
            "skip",
            problems=((task.image, f"image is {w}x{h} but its mask {current} is {mw}x{mh}"),),
        )
    if ctx.refuse_changes and not task.previous:  # it failed last time and decodes now
        return changed
    source = {
        "source_image": task.image,
        "source_mask": task.mask_folder or task.masks[0],
        "source_image_sha256": img_sha,
        "source_mask_sha256": mask_sha,
        "source_size": [int(size[0]), int(size[1])],
    }
    records = []
    for fitted in _fit(image, mask, template):
        name = task.name
        if fitted.tile is not None:
            name = f"{task.name}__r{fitted.tile[0]}_c{fitted.tile[1]}"
        records.append(_write_pair(fitted, name, task, template, Path(ctx.out), source))
    return TaskResult("ok", tuple(records))


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


def _fit(image: Any, mask: Any, template: DatasetTemplate) -> Any:
    if _is_pil(image) and template.fit == "stretch":
        # Nearest-neighbour resizing commutes with mapping values to classes, so map the
        # (smaller) resized mask.
        rows, cols = template.size
        h, w = image.height, image.width
        if (h, w) != (rows, cols):
            image = image.resize((cols, rows), pil_resample((h, w), (rows, cols)))
        if _is_pil(mask):
            small = np.asarray(mask.resize((cols, rows), Image.Resampling.NEAREST))
        else:
            small = resize_mask(mask, (rows, cols))
        classes = mask_to_classes(small, template.classes)
        return [FittedPair(image, classes, (rows / h, cols / w))]
    if _is_pil(image):
        image = np.asarray(image)
    if _is_pil(mask):
        mask = np.asarray(mask)
    classes = mask_to_classes(mask, template.classes)
    return fit_pair(image, classes, template.size, template.fit)


def _write_pair(
    fitted: FittedPair,
    name: str,
    task: PairTask,
    template: DatasetTemplate,
    out: Path,
    source: dict[str, Any],
) -> dict[str, Any]:
    img = fitted.image
    if template.color_model == "binary":
        img = binarize(np.asarray(img))
    img_data = encode_image(img, "." + template.image_type)
    mask_data = encode_image(encode_mask(fitted.mask, template.classes), ".png")
    rel_img, rel_mask = output_paths(template, task.split, name)
    _write(out / rel_img, img_data)
    _write(out / rel_mask, mask_data)
    return {
        "name": name,
        "split": task.split,
        "group": task.group,
        "image": rel_img,
        "mask": rel_mask,
        "image_sha256": hashlib.sha256(img_data).hexdigest(),
        "mask_sha256": hashlib.sha256(mask_data).hexdigest(),
        **source,
        "scale": [float(fitted.scale[0]), float(fitted.scale[1])],
        "tile": None if fitted.tile is None else list(fitted.tile),
    }


def _write(path: Path, data: bytes) -> None:
    try:
        fh = open(path, "wb")  # noqa: SIM115
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "wb")  # noqa: SIM115
    with fh:
        fh.write(data)
