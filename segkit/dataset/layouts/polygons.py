"""Layout ``polygons``: an image and an annotation file with the same stem.

Aperio ImageScope XML (``NAME.xml``) or QuPath GeoJSON (``NAME.geojson``, or ``NAME.json``
holding GeoJSON), beside the image or in another folder of the source. The file in the
image's own folder is taken first; else the one file with that stem anywhere in the source.
The polygons give the instance labels and, rasterised, the mask. Two images with one stem,
or two annotation files for one image elsewhere, are ambiguous and never paired.
"""

from __future__ import annotations

from collections import defaultdict

from segkit.dataset.layouts.base import (
    Found,
    Layout,
    Request,
    UnmatchedFile,
    annotation_files,
    parent,
    stem,
)

__all__ = ["LAYOUT", "find", "match_annotations"]


def match_annotations(
    images: list[str], annotations: list[str]
) -> tuple[dict[str, str], list[UnmatchedFile]]:
    """``{image: annotation file}`` by stem (same folder first), and the ambiguous images."""
    by_stem: dict[str, list[str]] = defaultdict(list)
    for a in annotations:
        by_stem[stem(a)].append(a)
    images_by_stem: dict[str, list[str]] = defaultdict(list)
    for f in images:
        images_by_stem[stem(f)].append(f)
    matched: dict[str, str] = {}
    ambiguous: list[UnmatchedFile] = []
    for key, imgs in images_by_stem.items():
        cands = by_stem.get(key, [])
        if not cands:
            continue
        for f in imgs:
            beside = [a for a in cands if parent(a) == parent(f)]
            if len(beside) == 1:
                matched[f] = beside[0]
            elif len(imgs) == 1 and len(cands) == 1:
                matched[f] = cands[0]
            else:
                reason = f"ambiguous: images and annotation files share the stem {key!r}"
                ambiguous.append(UnmatchedFile(f, reason))
    return matched, ambiguous


def find(files: list[str], request: Request) -> Found:
    """Pair each image with the annotation file of the same stem."""
    found = Found()
    matched, ambiguous = match_annotations(files, annotation_files(request.others))
    found.unrelated.extend(ambiguous)
    bad = {u.file for u in ambiguous}
    for f in files:
        if f in matched:
            found.add_annotated(f, matched[f])
        elif f not in bad:
            found.images_without_mask.append(f)
    return found


LAYOUT = Layout(
    name="polygons",
    summary="an image + NAME.xml (Aperio) or NAME.geojson/.json (QuPath) with the same stem",
    find=find,
)
