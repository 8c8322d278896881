"""Layout ``labelbox``: one Labelbox JSON export for many images.

Each labelled entry's ``External ID`` names its image: a file of that name, or the one image
of a folder named after its stem (``"1309620 -A2-28.jpg"`` -> ``1309620 -A2-28/original.jpg``,
the glioma Ki-67 fields). The polygons give both the mask and the instance labels; mask files
in such a folder (``mask_positive.png``, ...: touching nuclei merge in them) are not used and
are listed as unrelated. Entries marked "Skip" have no polygons and pair nothing.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile, parent, stem

__all__ = ["LAYOUT", "find", "is_labelbox_export"]

_HEAD = 65536


def is_labelbox_export(path: Path) -> bool:
    """True when the file starts like a Labelbox export (a JSON list of entries with
    ``External ID`` or ``DataRow ID``: the first may come after 64 KiB of polygons)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    except OSError:
        return False
    return head.startswith("[") and ('"External ID"' in head or '"DataRow ID"' in head)


def _is_mask_name(rel: str) -> bool:
    s = stem(rel).lower()
    return s.startswith(("mask", "label")) or "_mask" in s or "mask_" in s


def find(files: list[str], request: Request) -> Found:
    """Pair each labelled entry of every export in the source with its image."""
    from segkit.annotations import AnnotationError, read_labelbox

    found = Found()
    by_name: dict[str, list[str]] = defaultdict(list)
    by_folder: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_name[f.rsplit("/", 1)[-1]].append(f)
        by_folder[parent(f).rsplit("/", 1)[-1]].append(f)
    claimed: set[str] = set()
    for export in sorted(f for f in request.others if f.lower().endswith(".json")):
        if not is_labelbox_export(request.root / export):
            continue
        try:
            entries = read_labelbox(request.root / export)
        except AnnotationError:
            continue
        for external_id in sorted(entries):
            named = by_name.get(external_id, [])
            folder = [f for f in by_folder.get(stem(external_id), []) if not _is_mask_name(f)]
            cands = named if named else folder
            if len(cands) != 1 or cands[0] in claimed:
                continue
            image = cands[0]
            claimed.add(image)
            found.add_annotated(image, export, external_id, stem(external_id))
            for f in by_folder.get(parent(image).rsplit("/", 1)[-1], []):
                if f != image and parent(f) == parent(image) and _is_mask_name(f):
                    claimed.add(f)
                    found.unrelated.append(
                        UnmatchedFile(f, f"not used: the polygons of {export} give the mask")
                    )
    found.images_without_mask.extend(f for f in files if f not in claimed)
    return found


LAYOUT = Layout(
    name="labelbox",
    summary="one Labelbox JSON export for many images (External ID = file, or folder stem)",
    find=find,
)
