"""Layout ``points``: ``images/NAME.jpg`` + ``points/NAME.json``, one point per cell.

A point file is a JSON list of ``{"x", "y", "label_id"}`` (SHIDC-B-Ki-67). Such a pair has an
image and points but no mask: points are for counting and validation, never rasterised.
Images and point files are matched by their path below the two folders.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile, under
from segkit.dataset.layouts.separate import IMAGE_DIR_NAMES

__all__ = ["POINT_DIR_NAMES", "LAYOUT", "find"]

POINT_DIR_NAMES = ("points", "point", "centroids", "dots")


def _folder_pairs(files: list[str], others: list[str]) -> list[tuple[str, str]]:
    """``(image folder, point folder)`` for each image folder with a point folder beside it."""
    point_dirs = set()
    for f in others:
        p = PurePosixPath(f).parent
        if p.name.lower() in POINT_DIR_NAMES:
            point_dirs.add(p)
    pairs = []
    image_dirs = {PurePosixPath(f).parent for f in files}
    for d in sorted(image_dirs):
        if d.name.lower() not in IMAGE_DIR_NAMES:
            continue
        for pd in sorted(point_dirs):
            if pd.parent == d.parent:
                pairs.append((d.as_posix(), pd.as_posix()))
                break
    return pairs


def find(files: list[str], request: Request) -> Found:
    """Pair each image with the point file of the same path below the point folder."""
    found = Found()
    jsons = [f for f in request.others if f.lower().endswith(".json")]
    claimed: set[str] = set()
    for img_dir, point_dir in _folder_pairs(files, jsons):
        points: dict[str, list[str]] = defaultdict(list)
        for f in jsons:
            sub = under(f, point_dir)
            if sub is not None:
                points[PurePosixPath(sub).with_suffix("").as_posix()].append(f)
        used: set[str] = set()
        for f in files:
            sub = under(f, img_dir)
            if sub is None or f in claimed:
                continue
            claimed.add(f)
            cands = points.get(PurePosixPath(sub).with_suffix("").as_posix(), [])
            if len(cands) == 1:
                found.add_annotated(f, cands[0])
                used.add(cands[0])
            else:
                found.images_without_mask.append(f)
    for f in files:
        if f not in claimed:
            found.unrelated.append(
                UnmatchedFile(f, "not in an image folder beside a points folder")
            )
    return found


LAYOUT = Layout(
    name="points",
    summary="images/NAME.jpg + points/NAME.json (one point per cell; no mask)",
    find=find,
)
