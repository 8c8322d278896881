"""Find image/mask pairs in a source data set, whatever its layout.

The layouts (detected automatically, or named explicitly) are units of
:mod:`segkit.dataset.layouts`, one module each:

- ``separate``: an image folder beside a mask folder (``images/`` + ``masks/``, ``image/`` +
  ``label/``, ``Tissue_Images/`` + ``Binary_masks/``, ... or two folders the user names),
  matched by relative path and stem, the mask with or without the mask keyword;
- ``suffix``: ``a.png`` + ``a_mask.png`` (also ``a.jpg`` + ``a_mask.png``) in one folder;
- ``nnunet``: ``imagesTr/NAME_0000.png`` + ``labelsTr/NAME.png``;
- ``kaggle``: ``ID/images/ID.png`` + ``ID/masks/*.png``, one file per object, merged;
- ``pattern``: two regular expressions whose capture group gives the key shared by an
  image and its mask (e.g. ``img(.*)\\.tif`` and ``mask(.*)\\.tif``);
- ``points``: ``images/NAME.jpg`` + ``points/NAME.json`` (one point per cell, no mask);
- ``slides``: a whole slide and ``NAME.geojson`` (QuPath regions of interest and nuclei),
  cut into tiles by :mod:`segkit.dataset.slide_tiles`;
- ``polygons``: an image and ``NAME.xml`` (Aperio) or ``NAME.geojson``/``.json`` (QuPath);
- ``labelbox``: one Labelbox JSON export for many images.

``SourceLayout(annotations=FOLDER)`` also pairs the annotation files of another folder with
the images of any layout, by stem (:mod:`segkit.dataset.annotation_folder`).

Nothing is paired by guesswork: a file that fits none of the layout's rules (``a_overlay.png``
beside ``a.png`` and ``a_mask.png``, an image with two candidate masks) is listed with the
reason, never paired.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segkit.dataset.annotation_folder import annotation_root, attach_annotations
from segkit.dataset.layouts import (
    AUTO,
    LAYOUTS,
    NO_LAYOUT,
    Found,
    Request,
    UnmatchedFile,
    get_layout,
    layout_names,
)
from segkit.dataset.layouts.separate import IMAGE_DIR_NAMES, MASK_DIR_NAMES
from segkit.dataset.layouts.suffix import COMMON_KEYWORDS as COMMON_KEYWORDS  # re-exported
from segkit.dataset.walk import walk_source
from segkit.validation import FieldChecker

__all__ = [
    "SOURCE_LAYOUTS",
    "IMAGE_DIR_NAMES",
    "MASK_DIR_NAMES",
    "SourceLayout",
    "SourcePair",
    "check_point_labels",
    "UnmatchedFile",
    "Discovery",
    "discover_pairs",
]

SOURCE_LAYOUTS = layout_names()
_check = FieldChecker("source layout field")


def check_point_labels(labels: Any) -> tuple[tuple[int, str], ...]:
    """``{label_id: class name}`` (ids as ints or digit strings) as sorted ``(id, name)`` pairs.

    Raises
    ------
    ValueError
        One line naming the bad entry.
    """
    items = labels.items() if isinstance(labels, Mapping) else labels
    expected = 'an object such as {"1": "Positive", "2": "Negative"}'
    try:
        pairs = list(items)
    except TypeError:
        raise _check.bad("point_labels", labels, expected) from None
    out: dict[int, str] = {}
    for item in pairs:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise _check.bad("point_labels", labels, expected)
        key, name = item
        if isinstance(key, str) and key.strip().isdigit():
            key = int(key.strip())
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise _check.bad("point_labels", item[0], "label ids are integers >= 0")
        if not isinstance(name, str) or not name.strip():
            raise _check.bad(f"point_labels[{key}]", name, "a class name")
        out[key] = name.strip()
    if not out:
        raise _check.bad("point_labels", labels, expected)
    return tuple(sorted(out.items()))


@dataclass(frozen=True)
class SourceLayout:
    """How to read a source data set (default: detect the layout).

    Parameters
    ----------
    layout : str
        ``'auto'`` or a name in :data:`segkit.dataset.layouts.LAYOUTS` (``kaggle``,
        ``nnunet``, ``separate``, ``suffix``, ``points``, ``slides``, ``polygons``,
        ``labelbox``, ``pattern``).
    mask_keyword : str, optional
        Marks a mask file (``a_mask.png``); default: the template's keyword.
    image_dir, mask_dir : str, optional
        For ``separate``: the two folders, relative to the source (both or neither).
    image_pattern, mask_pattern : str, optional
        For ``pattern``: regular expressions searched in each file's relative path; the named
        group ``key`` (or the first group) must be equal for an image and its mask.
    follow_symlinks : bool, default False
        Also follow links whose target lies outside the source (see
        :mod:`segkit.dataset.walk`); by default they are listed in ``Discovery.links_outside``.
    annotations : str, optional
        A folder of annotation files (``NAME.xml``, ``NAME.geojson``, ``NAME.json``), absolute
        or relative to the source, paired by stem with the images of any layout
        (MoNuSeg: ``../monuseg2018-train-xml``). The polygons give instance labels; an image
        without a mask gets its mask rasterised from them.
    mpp : float, optional
        Microns per pixel of the source images whose files do not say (plain tiles:
        MoNuSeg's 0.2527). A slide's metadata and an Aperio XML's ``MicronsPerPixel`` come
        first; see :mod:`segkit.dataset.source_mpp`.
    point_labels : mapping of int to str, optional
        Class name of each ``label_id`` in point files (``{"1": "Positive"}``); default
        SHIDC-B-Ki-67's (:data:`segkit.annotations.SHIDC_LABELS`). Kept as sorted pairs.
    """

    layout: str = AUTO
    mask_keyword: str | None = None
    image_dir: str | None = None
    mask_dir: str | None = None
    image_pattern: str | None = None
    mask_pattern: str | None = None
    follow_symlinks: bool = False
    annotations: str | None = None
    mpp: float | None = None
    point_labels: Any = None

    def __post_init__(self) -> None:
        _check.check_choice("layout", self.layout, SOURCE_LAYOUTS)
        if self.point_labels is not None:
            object.__setattr__(self, "point_labels", check_point_labels(self.point_labels))
        if self.mpp is not None:
            mpp = _check.check_float(
                "mpp", self.mpp, minimum=0.0, maximum=1000.0, exclusive_minimum=True,
                expected="microns per pixel > 0 (MoNuSeg: 0.2527)",
            )  # fmt: skip
            object.__setattr__(self, "mpp", mpp)
        if self.mask_keyword is not None and (
            not self.mask_keyword or "/" in self.mask_keyword or "\\" in self.mask_keyword
        ):
            raise _check.bad("mask_keyword", self.mask_keyword, "a keyword without path separators")
        if self.annotations is not None and not str(self.annotations).strip():
            raise _check.bad("annotations", self.annotations, "a folder of annotation files")
        for first, second in (("image_dir", "mask_dir"), ("image_pattern", "mask_pattern")):
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                raise _check.bad(
                    first if getattr(self, first) is None else second,
                    None,
                    f"give both {first} and {second}, or neither",
                )
        for name in ("image_pattern", "mask_pattern"):
            pattern = getattr(self, name)
            if pattern is None:
                continue
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise _check.bad(name, pattern, f"a valid regular expression ({exc})") from None
            if compiled.groups < 1:
                raise _check.bad(
                    name, pattern, "a regular expression with a capture group (the key)"
                )
        for unit in LAYOUTS.values():
            given = [o for o in unit.options if getattr(self, o) is not None]
            if given and self.layout not in (AUTO, unit.name):
                options = "/".join(unit.options)
                raise _check.bad("layout", self.layout, f"{options} go with layout {unit.name!r}")
            if unit.needs_options and self.layout == unit.name and not given:
                raise _check.bad(
                    unit.options[0],
                    None,
                    f"layout {unit.name!r} needs {' and '.join(unit.options)}",
                )

    @property
    def resolved(self) -> str:
        """The layout, with explicit folders or patterns implying theirs."""
        for unit in LAYOUTS.values():
            if any(getattr(self, o) is not None for o in unit.options):
                return unit.name
        return self.layout

    def request(self, root: Path, mask_keyword: str, others: tuple[str, ...] = ()) -> Request:
        """What the layout units are asked (``mask_keyword`` unless this names one)."""
        return Request(
            root=root,
            keyword=self.mask_keyword or mask_keyword,
            keyword_named=self.mask_keyword is not None,
            image_dir=self.image_dir,
            mask_dir=self.mask_dir,
            image_pattern=self.image_pattern,
            mask_pattern=self.mask_pattern,
            others=others,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "mask_keyword": self.mask_keyword,
            "image_dir": self.image_dir,
            "mask_dir": self.mask_dir,
            "image_pattern": self.image_pattern,
            "mask_pattern": self.mask_pattern,
            "follow_symlinks": self.follow_symlinks,
            "annotations": self.annotations,
            "mpp": self.mpp,
            # only when set: a default layout's record stays as before
            **(
                {}
                if self.point_labels is None
                else {"point_labels": {str(k): v for k, v in self.point_labels}}
            ),
        }


@dataclass(frozen=True)
class SourcePair:
    """One image and its mask file(s) in the source, paths relative to the source root.

    Attributes
    ----------
    name : str
        Unique name (the image stem; made unique with a short hash when stems repeat).
    image : str
    masks : tuple of str
        One file, or one file per object (Kaggle layout) to be merged.
    mask_folder : str or None
        The folder of merged mask files (Kaggle layout).
    annotations : str or None
        An annotation file (polygons or points) of the image; a pair may have it and no mask
        file (``masks == ()``).
    annotation_key : str or None
        The image's key in an annotation file that covers several (a Labelbox External ID).
    """

    name: str
    image: str
    masks: tuple[str, ...]
    mask_folder: str | None = None
    annotations: str | None = None
    annotation_key: str | None = None

    @property
    def source_mask(self) -> str:
        """The mask file, the folder of merged mask files, or "" when there is none."""
        if self.mask_folder is not None:
            return self.mask_folder
        return self.masks[0] if self.masks else ""

    @property
    def source_annotations(self) -> str:
        """The annotation file (``FILE#KEY`` for a Labelbox export), or ""."""
        if self.annotations is None:
            return ""
        return self.annotations + (f"#{self.annotation_key}" if self.annotation_key else "")


@dataclass(frozen=True)
class Discovery:
    """The pairs found in a source data set and the files left over.

    ``links_outside`` names the links whose target lies outside the source: not followed.
    """

    root: Path
    layout: str
    mask_keyword: str
    pairs: tuple[SourcePair, ...]
    images_without_mask: tuple[str, ...]
    masks_without_image: tuple[str, ...]
    unrelated: tuple[UnmatchedFile, ...]
    other_files: tuple[str, ...]
    links_outside: tuple[str, ...] = ()


def _detect(files: list[str], request: Request) -> tuple[str, Found]:
    """The detectable layout that pairs the most images (the first on a tie), or none."""
    best: tuple[str, Found] | None = None
    for unit in LAYOUTS.values():
        if not unit.detect:
            continue
        found = unit.find(files, request)
        if best is None or len(found.pairs) > len(best[1].pairs):
            best = (unit.name, found)
    if best is None or not best[1].pairs:
        reason = "no layout finds a mask for it (name the layout, folders or patterns)"
        return NO_LAYOUT, Found(unrelated=[UnmatchedFile(f, reason) for f in files])
    return best


def _safe_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", stem).strip("._") or "pair"
    return name


def _unique_names(found: Found) -> list[SourcePair]:
    names = [_safe_name(stem) for _, _, _, stem in found.pairs]
    counts: dict[str, int] = defaultdict(int)
    for n in names:
        counts[n] += 1
    out = []
    for (image, masks, folder, _), name in zip(found.pairs, names):
        if counts[name] > 1:
            name = f"{name}_{hashlib.sha1(image.encode('utf-8')).hexdigest()[:6]}"
        annotation, key = found.annotations.get(image, (None, None))
        out.append(
            SourcePair(
                name=name,
                image=image,
                masks=masks,
                mask_folder=folder,
                annotations=annotation,
                annotation_key=key,
            )
        )
    return sorted(out, key=lambda p: p.name)


def discover_pairs(
    src: str | Path, layout: SourceLayout | str = AUTO, *, mask_keyword: str = "_mask"
) -> Discovery:
    """Find the image/mask pairs in ``src`` (recursively).

    Parameters
    ----------
    src : path
        The source data set folder (read only).
    layout : SourceLayout or str
        ``"auto"`` (default) tries every layout and keeps the one that pairs the most images.
    mask_keyword : str
        Mask keyword when ``layout`` does not give one (usually the template's).

    Returns
    -------
    Discovery

    Notes
    -----
    Links whose target lies outside ``src`` are not followed unless the layout says
    ``follow_symlinks``; see :mod:`segkit.dataset.walk`.
    """
    root = Path(src)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such source folder")
    opts = layout if isinstance(layout, SourceLayout) else SourceLayout(layout=layout)
    walked = walk_source(root, follow_symlinks=opts.follow_symlinks)
    request = opts.request(root, mask_keyword, walked.others)
    files = list(walked.images)
    chosen = opts.resolved
    links = walked.links_outside
    if opts.annotations is not None:
        annotation_root(root, opts.annotations)  # a missing folder fails before any work
    if chosen == AUTO:
        chosen, found = _detect(files, request)
    else:
        found = get_layout(chosen).find(files, request)
    if opts.annotations is not None:
        if chosen == NO_LAYOUT:  # images only: the annotation files pair them
            chosen, found = "polygons", Found(images_without_mask=list(files))
        attached = attach_annotations(
            found, root, opts.annotations, follow_symlinks=opts.follow_symlinks
        )
        links = tuple(sorted((*links, *attached.links_outside)))
    return Discovery(
        root=root,
        layout=chosen,
        mask_keyword=found.keyword or request.keyword,
        pairs=tuple(_unique_names(found)),
        images_without_mask=tuple(sorted(found.images_without_mask)),
        masks_without_image=tuple(sorted(found.masks_without_image)),
        unrelated=tuple(sorted(found.unrelated, key=lambda u: u.file)),
        other_files=tuple(f for f in walked.others if f not in _annotation_files(found)),
        links_outside=links,
    )


def _annotation_files(found: Found) -> set[str]:
    return {annotation for annotation, _ in found.annotations.values()}
