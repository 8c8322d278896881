"""Layout ``suffix``: ``a.png`` + ``a_mask.png`` (also ``a.jpg`` + ``a_mask.png``) in one folder.

When the mask keyword was not named, the common keywords (``_mask``, ``_label``, ``-mask``, ...)
are tried too and the one that pairs the most images is kept.
"""

from __future__ import annotations

from collections import defaultdict

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile, parent, stem

__all__ = ["COMMON_KEYWORDS", "LAYOUT", "find", "find_with_keyword"]

# Mask keywords tried when none is named explicitly.
COMMON_KEYWORDS = ("_mask", "_masks", "_label", "_labels", "_seg", "_gt", "-mask", "-label")


def find(files: list[str], request: Request) -> Found:
    """Pair by the request's keyword; unless it was named, the best of the common ones."""
    if request.keyword_named:
        return find_with_keyword(files, request.keyword)
    best: Found | None = None
    for keyword in dict.fromkeys((request.keyword, *COMMON_KEYWORDS)):
        found = find_with_keyword(files, keyword)
        if best is None or len(found.pairs) > len(best.pairs):
            best = found
    assert best is not None
    return best


def find_with_keyword(files: list[str], keyword: str) -> Found:
    """Pair ``NAME<keyword>.EXT`` with the one ``NAME.EXT`` image in the same folder."""
    found = Found(keyword=keyword)
    by_dir: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_dir[parent(f)].append(f)
    for _, group in sorted(by_dir.items()):
        masks = [f for f in group if stem(f).endswith(keyword) and stem(f) != keyword]
        images: dict[str, list[str]] = defaultdict(list)
        for f in group:
            if f not in masks:
                images[stem(f)].append(f)
        paired: set[str] = set()
        for m in masks:
            base = stem(m)[: -len(keyword)]
            cands = images.get(base, [])
            if len(cands) == 1:
                found.pairs.append((cands[0], (m,), None, base))
                paired.add(base)
            elif not cands:
                found.masks_without_image.append(m)
            else:
                paired.add(base)
                for f in cands + [m]:
                    found.unrelated.append(
                        UnmatchedFile(f, f"ambiguous: several images for {m} ({', '.join(cands)})")
                    )
        for name, fs in sorted(images.items()):
            if name in paired:
                continue
            owner = next(
                (b for b in sorted(paired, key=len, reverse=True)
                 if name.startswith(b) and len(name) > len(b) and name[len(b)] in "_-. "),
                None,
            )  # fmt: skip
            for f in fs:
                if owner is not None:
                    found.unrelated.append(
                        UnmatchedFile(
                            f,
                            f"neither an image nor a mask with keyword {keyword!r} "
                            f"(a file derived from {owner!r}?)",
                        )
                    )
                else:
                    found.images_without_mask.append(f)
    return found


LAYOUT = Layout(
    name="suffix",
    summary="a.png + a_mask.png in one folder (the mask keyword named or a common one)",
    find=find,
)
