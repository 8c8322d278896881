"""Layout ``kaggle`` (Data Science Bowl 2018): ``ID/images/ID.png`` + ``ID/masks/*.png``.

One mask file per object; the files of a case are merged into one mask when prepared.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile, parent, stem

__all__ = ["LAYOUT", "find"]


def find(files: list[str], request: Request) -> Found:
    """Pair each case's one image with all the object masks of the case."""
    found = Found()
    cases: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"images": [], "masks": []})
    for f in files:
        parts = PurePosixPath(f).parts
        if len(parts) >= 3 and parts[-2].lower() in ("images", "masks"):
            case = PurePosixPath(*parts[:-2]).as_posix()
            cases[case][parts[-2].lower()].append(f)
    valid = {c: v for c, v in cases.items() if v["images"]}
    claimed: set[str] = set()
    for case, v in sorted(valid.items()):
        case_name = PurePosixPath(case).name
        imgs = v["images"]
        main = [f for f in imgs if stem(f) == case_name] if len(imgs) > 1 else imgs
        claimed.update(imgs)
        claimed.update(v["masks"])
        for f in imgs:
            if f not in main[:1] or len(main) != 1:
                found.unrelated.append(
                    UnmatchedFile(f, f"more than one image in {case}/images (expected {case_name})")
                )
        if len(main) != 1:
            found.masks_without_image.extend(v["masks"])
            continue
        if v["masks"]:
            mask_dir = parent(v["masks"][0])
            found.pairs.append((main[0], tuple(sorted(v["masks"])), mask_dir, case_name))
        else:
            found.images_without_mask.append(main[0])
    for f in files:
        if f not in claimed:
            found.unrelated.append(UnmatchedFile(f, "not in a Kaggle ID/images or ID/masks folder"))
    return found


LAYOUT = Layout(
    name="kaggle",
    summary="Kaggle DSB: ID/images/ID.png + ID/masks/*.png, one file per object, merged",
    find=find,
)
