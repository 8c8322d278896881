"""Layout ``pattern``: two regular expressions whose capture group is the shared key.

``img(.*)\\.tif`` and ``mask(.*)\\.tif`` pair ``img2d.tif`` with ``mask2d.tif``. Each is searched
in the file's relative path; the named group ``key`` (or the first group) is the key.
"""

from __future__ import annotations

import re
from collections import defaultdict

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile

__all__ = ["LAYOUT", "find"]


def _key(m: re.Match[str]) -> str:
    return m["key"] if "key" in m.re.groupindex else m.group(1)


def find(files: list[str], request: Request) -> Found:
    """Pair the one image and the one mask whose patterns give the same key."""
    if request.image_pattern is None or request.mask_pattern is None:
        raise ValueError("layout 'pattern' needs image_pattern and mask_pattern")
    ipat, mpat = re.compile(request.image_pattern), re.compile(request.mask_pattern)
    found = Found()
    imgs: dict[str, list[str]] = defaultdict(list)
    masks: dict[str, list[str]] = defaultdict(list)
    for f in files:
        mi, mm = ipat.search(f), mpat.search(f)
        if mi and mm:
            found.unrelated.append(UnmatchedFile(f, "matches both the image and the mask pattern"))
        elif mi:
            imgs[_key(mi)].append(f)
        elif mm:
            masks[_key(mm)].append(f)
        else:
            found.unrelated.append(UnmatchedFile(f, "matches neither pattern"))
    found.pair_by_key(imgs, masks, lambda key, files: f"ambiguous: several files with key {key!r}")
    return found


LAYOUT = Layout(
    name="pattern",
    summary="two regular expressions whose capture group is the key shared by image and mask",
    find=find,
    detect=False,
    options=("image_pattern", "mask_pattern"),
    needs_options=True,
)
