"""Layout ``separate``: an image folder beside a mask folder.

``images/`` + ``masks/``, ``image/`` + ``label/``, ``Tissue_Images/`` + ``Binary_masks/``, ...
(any depth, several pairs of folders), or the two folders the user names. An image and its
mask share their path below their folders and their stem, the mask with or without the mask
keyword (``images/x/a.png`` + ``masks/x/a_mask.png``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile, strip_keyword, under

__all__ = ["IMAGE_DIR_NAMES", "MASK_DIR_NAMES", "LAYOUT", "find"]

IMAGE_DIR_NAMES = (
    "images", "image", "imgs", "img", "tissue_images", "inputs", "input", "originals", "raw",
)  # fmt: skip
MASK_DIR_NAMES = (
    "masks", "mask", "labels", "label", "binary_masks", "annotations", "groundtruth",
    "ground_truth", "gt", "targets", "target", "segmentations", "segmentation",
)  # fmt: skip


def find(files: list[str], request: Request) -> Found:
    """Pair the files of the named folders, or of every image folder beside a mask folder."""
    if request.image_dir is not None and request.mask_dir is not None:
        for name in (request.image_dir, request.mask_dir):
            if not (request.root / name).is_dir():
                raise FileNotFoundError(f"{request.root / name}: no such folder (source layout)")
        img = PurePosixPath(request.image_dir).as_posix()
        msk = PurePosixPath(request.mask_dir).as_posix()
        return match_folders(files, [(img, msk)], request.keyword)
    return match_folders(files, folder_pairs(files), request.keyword)


def folder_pairs(files: list[str]) -> list[tuple[str, str]]:
    """``(image folder, mask folder)`` for every image folder with a mask folder beside it."""
    dirs: set[str] = set()
    for f in files:
        p = PurePosixPath(f).parent
        while str(p) != ".":
            dirs.add(p.as_posix())
            p = p.parent
    pairs = []
    for d in sorted(dirs):
        name = PurePosixPath(d).name.lower()
        if name not in IMAGE_DIR_NAMES:
            continue
        up = PurePosixPath(d).parent
        siblings = {PurePosixPath(s).name.lower(): s for s in dirs if PurePosixPath(s).parent == up}
        for mask_name in MASK_DIR_NAMES:
            if mask_name in siblings:
                pairs.append((d, siblings[mask_name]))
                break
    return pairs


def match_folders(files: list[str], folders: list[tuple[str, str]], keyword: str) -> Found:
    """Pair images and masks by their path below their folders (mask keyword optional)."""
    found = Found()
    claimed: set[str] = set()
    for img_dir, mask_dir in folders:
        imgs: dict[str, list[str]] = defaultdict(list)
        masks: dict[str, list[str]] = defaultdict(list)
        for f in files:
            if f in claimed:
                continue
            sub = under(f, mask_dir)
            if sub is not None:
                key = PurePosixPath(sub).with_suffix("").as_posix()
                masks[strip_keyword(key, keyword)].append(f)
                claimed.add(f)
                continue
            sub = under(f, img_dir)
            if sub is not None:
                imgs[PurePosixPath(sub).with_suffix("").as_posix()].append(f)
                claimed.add(f)
        found.pair_by_key(
            imgs,
            masks,
            lambda key, files: (
                f"ambiguous: several files share the key {key!r} ({', '.join(files)})"
            ),
        )
    for f in files:
        if f not in claimed:
            found.unrelated.append(UnmatchedFile(f, "not in an image or mask folder"))
    return found


LAYOUT = Layout(
    name="separate",
    summary="an image folder beside a mask folder (images/ + masks/, or the two named)",
    find=find,
    options=("image_dir", "mask_dir"),
)
