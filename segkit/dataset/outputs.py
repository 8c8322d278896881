"""The files of one prepared pair: their paths in the data set, and writing them.

Every worker (image pairs in :mod:`segkit.dataset.process`, slide tiles in
:mod:`segkit.dataset.slide_tiles`) writes its outputs through :func:`write_pair`, which
encodes the image, the mask and the instance labels and returns the pair's manifest record.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from segkit.dataset.fit import FittedPair
from segkit.dataset.targets import encode_instances, relabel
from segkit.imaging import binarize, encode_image, encode_mask
from segkit.template import DatasetTemplate

__all__ = [
    "link_output",
    "output_files",
    "output_paths",
    "part_path",
    "write_file",
    "write_pair",
    "write_part",
]


def output_paths(template: DatasetTemplate, split: str, name: str) -> tuple[str, str]:
    """Relative paths of the image and mask of pair ``name`` in split part ``split``."""
    if template.layout == "separate":
        return (
            f"{split}/images/{template.image_name(name)}",
            f"{split}/masks/{template.mask_name(name)}",
        )
    return f"{split}/{template.image_name(name)}", f"{split}/{template.mask_name(name)}"


def part_path(part: str, split: str, name: str) -> str:
    """Relative path of an optional part: ``PART/instances/NAME.tif``, ``PART/points/NAME.json``."""
    return f"{split}/{part}/{name}.{'tif' if part == 'instances' else 'json'}"


def output_files(record: dict[str, Any]) -> list[str]:
    """The output files a manifest record lists (image, mask when present, optional parts)."""
    return [record[k] for k in ("image", "mask", "instances", "points") if record.get(k)]


def link_output(src: Path, dst: Path) -> None:
    """Hard-link an earlier output into the new folder (copy it where links fail)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_pair(
    fitted: FittedPair,
    name: str,
    split: str,
    group: str,
    template: DatasetTemplate,
    out: Path,
    source: dict[str, Any],
) -> dict[str, Any]:
    """Encode and write one fitted pair under ``out``; its manifest record.

    ``source`` holds the record's ``source_*`` fields (and ``source_mpp``/``mpp`` when known).
    """
    img = fitted.image
    if template.color_model == "binary":
        img = binarize(np.asarray(img))
    img_data = encode_image(img, "." + template.image_type)
    rel_img, rel_mask = output_paths(template, split, name)
    write_file(out / rel_img, img_data)
    mask_sha = ""
    if fitted.mask is None:
        rel_mask = ""
    else:
        mask_data = encode_image(encode_mask(fitted.mask, template.classes), ".png")
        write_file(out / rel_mask, mask_data)
        mask_sha = hashlib.sha256(mask_data).hexdigest()
    record = {
        "name": name,
        "split": split,
        "group": group,
        "image": rel_img,
        "mask": rel_mask,
        "image_sha256": hashlib.sha256(img_data).hexdigest(),
        "mask_sha256": mask_sha,
        **source,
        "scale": [float(fitted.scale[0]), float(fitted.scale[1])],
        "tile": None if fitted.tile is None else list(fitted.tile),
    }
    if fitted.instances is not None:
        data = encode_instances(relabel(fitted.instances))
        record.update(write_part(out, "instances", split, name, data))
    return record


def write_part(out: Path, part: str, split: str, name: str, data: bytes) -> dict[str, str]:
    """Write an optional part of a pair; its manifest fields."""
    rel = part_path(part, split, name)
    write_file(out / rel, data)
    return {part: rel, f"{part}_sha256": hashlib.sha256(data).hexdigest()}


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating its folder when missing."""
    try:
        fh = open(path, "wb")  # noqa: SIM115
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "wb")  # noqa: SIM115
    with fh:
        fh.write(data)
