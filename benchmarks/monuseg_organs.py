"""MoNuSeg's organs and the leave-one-organ-out folds of ``quality_monuseg.py``.

The organ of a MoNuSeg image comes from its TCGA tissue-source site, the two characters after
``TCGA-`` in the file name (TCGA's code tables; MoNuSeg 2018 lists the same organs):

========================  ==========
site codes                organ
========================  ==========
18, 21, 38, 49, 50        lung
A7, AR, E2                breast
AY, NH                    colon
B0, HE                    kidney
CH, G9                    prostate
DK, G2                    bladder
KB                        liver
RD                        stomach
========================  ==========

The 30 training images are 6 lung, 6 breast, 6 kidney, 6 prostate, 2 colon, 2 bladder,
1 liver and 1 stomach. A file whose site is not in the table stops the benchmark with one
line naming the file (a new organ must be added here, not guessed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SITE_ORGAN: dict[str, str] = {
    **dict.fromkeys(("18", "21", "38", "49", "50"), "lung"),
    **dict.fromkeys(("A7", "AR", "E2"), "breast"),
    **dict.fromkeys(("AY", "NH"), "colon"),
    **dict.fromkeys(("B0", "HE"), "kidney"),
    **dict.fromkeys(("CH", "G9"), "prostate"),
    **dict.fromkeys(("DK", "G2"), "bladder"),
    "KB": "liver",
    "RD": "stomach",
}
ORGANS: tuple[str, ...] = tuple(dict.fromkeys(SITE_ORGAN.values()))
_SITE = re.compile(r"^TCGA-([0-9A-Z]{2})-")


class OrganError(ValueError):
    """A file or a fold the organ table does not know."""


def organ_of(name: str) -> str:
    """The organ of a MoNuSeg image named ``TCGA-<site>-...`` (a file name or stem)."""
    m = _SITE.match(Path(name).name)
    if m is None:
        raise OrganError(f"{name}: not a TCGA file name (expected TCGA-<site>-...)")
    site = m.group(1)
    if site not in SITE_ORGAN:
        known = ", ".join(sorted(SITE_ORGAN))
        raise OrganError(
            f"{name}: tissue-source site {site!r} is not in the organ table ({known}); "
            "add it to benchmarks/monuseg_organs.py"
        )
    return SITE_ORGAN[site]


def images_by_organ(source: Path) -> dict[str, list[str]]:
    """Stems of ``source/Tissue_Images/*.tif`` grouped by organ (every file must map)."""
    folder = Path(source) / "Tissue_Images"
    stems = sorted(p.stem for p in folder.glob("*.tif"))
    if not stems:
        raise OrganError(f"{folder}: no .tif images (expected the MoNuSeg training folder)")
    out: dict[str, list[str]] = {}
    for stem in stems:
        out.setdefault(organ_of(stem), []).append(stem)
    return {organ: out[organ] for organ in ORGANS if organ in out}


def parse_folds(text: str | None, present: Iterable[str]) -> list[tuple[str, ...]]:
    """Folds from ``"lung,breast,colon+liver"``: each comma-separated item is one fold, whose
    ``+``-joined organs are held out together. None: one fold per organ present."""
    present = list(present)
    if text is None:
        return [(organ,) for organ in present]
    folds: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for item in text.split(","):
        organs = tuple(o.strip().lower() for o in item.split("+") if o.strip())
        if not organs:
            raise OrganError(f"--folds {text!r}: an empty fold")
        for organ in organs:
            if organ not in present:
                raise OrganError(
                    f"--folds {text!r}: {organ!r} is not an organ of the data "
                    f"(one of {', '.join(present)})"
                )
            if organ in seen:
                raise OrganError(f"--folds {text!r}: {organ!r} is held out twice")
            seen.add(organ)
        folds.append(organs)
    return folds


def stem_pattern(stems: Sequence[str], folder: str, suffix: str) -> str:
    """A ``pattern``-layout regular expression that matches exactly these stems in ``folder``;
    its group ``key`` is the stem."""
    names = "|".join(re.escape(s) for s in sorted(stems))
    return rf"^{re.escape(folder)}/(?P<key>{names}){re.escape(suffix)}$"


def dice(pred: np.ndarray, truth: np.ndarray) -> tuple[float, int, int]:
    """``(Dice, intersection, |pred| + |truth|)`` of two boolean masks (Dice 1 when both empty)."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    inter, total = int((pred & truth).sum()), int(pred.sum() + truth.sum())
    return (1.0 if total == 0 else 2.0 * inter / total), inter, total


def summarise(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, Any]:
    """Per-organ and overall figures of the per-image ``rows`` (``organ``, ``image``, and
    ``key`` / ``key + '_inter'`` / ``key + '_total'`` for one prediction variant)."""
    organs: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        organs.setdefault(str(row["organ"]), []).append(row)

    def pooled(part: Sequence[Mapping[str, Any]]) -> float:
        inter = sum(int(r[f"{key}_inter"]) for r in part)
        total = sum(int(r[f"{key}_total"]) for r in part)
        return 2.0 * inter / max(total, 1)

    per_organ = {
        organ: {
            "images": len(part),
            "dice_mean_per_image": float(np.mean([float(r[key]) for r in part])),
            "dice_pooled": pooled(part),
        }
        for organ, part in organs.items()
    }
    worst_organ = min(per_organ, key=lambda o: per_organ[o]["dice_mean_per_image"])
    worst = min(rows, key=lambda r: float(r[key]))
    return {
        "images": len(rows),
        "dice_mean_per_image": float(np.mean([float(r[key]) for r in rows])),
        "dice_pooled": pooled(rows),
        "dice_mean_over_organs": float(
            np.mean([v["dice_mean_per_image"] for v in per_organ.values()])
        ),
        "worst_organ": {"organ": worst_organ, **per_organ[worst_organ]},
        "worst_image": {"image": worst["image"], "organ": worst["organ"], "dice": worst[key]},
        "per_organ": per_organ,
    }
