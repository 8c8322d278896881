"""Layout ``nnunet``: ``imagesTr/NAME_0000.png`` + ``labelsTr/NAME.png`` (also ``Ts``, ``Va``).

Only channel ``0000`` of a case is read; the other channels are listed as unrelated.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile, parent, stem

__all__ = ["LAYOUT", "find"]

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")
_PARTS = ("Tr", "Ts", "Va", "Val")


def find(files: list[str], request: Request) -> Found:
    """Pair channel 0000 of each case in ``imagesXX/`` with its label in ``labelsXX/``."""
    found = Found()
    folders: dict[str, tuple[str, str]] = {}
    for f in files:
        folder = PurePosixPath(f).parent
        name = folder.name
        if name.startswith("images") and name[6:] in _PARTS:
            folders[folder.as_posix()] = ("image", name[6:])
        elif name.startswith("labels") and name[6:] in _PARTS:
            folders[folder.as_posix()] = ("label", name[6:])
    if not folders:
        found.unrelated.extend(UnmatchedFile(f, "not in an nnU-Net folder") for f in files)
        return found
    labels: dict[tuple[str, str], str] = {}
    for f in files:
        kind = folders.get(parent(f))
        if kind and kind[0] == "label":
            labels[(PurePosixPath(f).parent.parent.as_posix() + "|" + kind[1], stem(f))] = f
    used: set[str] = set()
    for f in files:
        kind = folders.get(parent(f))
        if kind is None:
            found.unrelated.append(UnmatchedFile(f, "not in an nnU-Net folder"))
            continue
        if kind[0] == "label":
            continue
        m = _CHANNEL.match(stem(f))
        if m is None:
            found.unrelated.append(UnmatchedFile(f, "nnU-Net image without a _0000 channel suffix"))
            continue
        key = (PurePosixPath(f).parent.parent.as_posix() + "|" + kind[1], m["case"])
        if m["channel"] != "0000":
            found.unrelated.append(
                UnmatchedFile(f, f"extra channel {m['channel']} of case {m['case']!r} (not read)")
            )
            continue
        if key in labels:
            found.pairs.append((f, (labels[key],), None, m["case"]))
            used.add(labels[key])
        else:
            found.images_without_mask.append(f)
    found.masks_without_image.extend(f for f in labels.values() if f not in used)
    return found


LAYOUT = Layout(
    name="nnunet",
    summary="nnU-Net: imagesTr/NAME_0000.png + labelsTr/NAME.png",
    find=find,
)
