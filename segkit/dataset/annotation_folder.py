"""Pair annotation files from another folder with the images a layout found (``--annotations``).

MoNuSeg keeps its polygons apart from its images and masks: ``monuseg2018-train/`` holds
``Tissue_Images/NAME.tif`` + ``Binary_masks/NAME.png``, and ``monuseg2018-train-xml/NAME.xml``
the polygons of 13 of the 30 images. ``SourceLayout(annotations=FOLDER)`` walks ``FOLDER``
(by the link rule of :mod:`segkit.dataset.walk`, with ``FOLDER`` as its root) and gives each
image found by any layout the annotation file (``.xml``, ``.geojson``, ``.json``) of the same
stem. A pair with a mask keeps it and gains instances; an image without a mask becomes a pair
whose mask is rasterised from the polygons.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from segkit.dataset.layouts.base import Found, UnmatchedFile, annotation_files
from segkit.dataset.layouts.polygons import match_annotations
from segkit.dataset.walk import walk_source

__all__ = ["AttachedAnnotations", "attach_annotations", "annotation_root"]


@dataclass(frozen=True)
class AttachedAnnotations:
    """What :func:`attach_annotations` did: files paired, and links not followed."""

    paired: int
    links_outside: tuple[str, ...] = ()


def annotation_root(root: Path, folder: str | Path) -> Path:
    """The annotation folder: absolute, or relative to the source ``root``."""
    path = Path(folder)
    path = path if path.is_absolute() else root / path
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such annotation folder (--annotations)")
    return path


def attach_annotations(
    found: Found, root: Path, folder: str | Path, *, follow_symlinks: bool = False
) -> AttachedAnnotations:
    """Give the images of ``found`` the annotation files of ``folder`` (``found`` is changed).

    Paths of the annotation files are recorded relative to ``root`` (``../xml/NAME.xml``).
    """
    ann_root = annotation_root(root, folder)
    prefix = os.path.relpath(ann_root, root).replace(os.sep, "/")
    walked = walk_source(ann_root, follow_symlinks=follow_symlinks)
    files = annotation_files(walked.others)

    def rel(f: str) -> str:
        return f if prefix == "." else f"{prefix}/{f}"

    paired_images = [image for image, *_ in found.pairs]
    candidates = paired_images + list(found.images_without_mask)
    matched, ambiguous = match_annotations(candidates, files)
    found.unrelated.extend(ambiguous)
    used: set[str] = set()
    for image in paired_images:
        if image not in matched:
            continue
        if image in found.annotations:
            reason = f"not used: {image} already has annotations ({found.annotations[image][0]})"
            found.unrelated.append(UnmatchedFile(rel(matched[image]), reason))
        else:
            found.annotations[image] = (rel(matched[image]), None)
        used.add(matched[image])
    lone = []
    for image in found.images_without_mask:
        if image in matched:
            found.add_annotated(image, rel(matched[image]))
            used.add(matched[image])
        else:
            lone.append(image)
    found.images_without_mask[:] = lone
    found.unrelated.extend(
        UnmatchedFile(rel(f), "annotation file without an image") for f in files if f not in used
    )
    return AttachedAnnotations(len(used), tuple(rel(f) for f in walked.links_outside))
