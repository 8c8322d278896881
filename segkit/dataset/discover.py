"""Find image/mask pairs in a source data set, whatever its layout.

Layouts (detected automatically, or named explicitly):

- ``separate``: an image folder beside a mask folder (``images/`` + ``masks/``, ``image/`` +
  ``label/``, ``Tissue_Images/`` + ``Binary_masks/``, ... or two folders the user names),
  matched by relative path and stem, the mask with or without the mask keyword;
- ``suffix``: ``a.png`` + ``a_mask.png`` (also ``a.jpg`` + ``a_mask.png``) in one folder;
- ``nnunet``: ``imagesTr/NAME_0000.png`` + ``labelsTr/NAME.png``;
- ``kaggle``: ``ID/images/ID.png`` + ``ID/masks/*.png``, one file per object, merged;
- ``pattern``: two regular expressions whose capture group gives the key shared by an
  image and its mask (e.g. ``img(.*)\\.tif`` and ``mask(.*)\\.tif``).

Nothing is paired by guesswork: a file that fits none of the layout's rules (``a_overlay.png``
beside ``a.png`` and ``a_mask.png``, an image with two candidate masks) is listed with the
reason, never paired.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from segkit.imaging import IMAGE_EXTENSIONS

__all__ = [
    "SOURCE_LAYOUTS",
    "IMAGE_DIR_NAMES",
    "MASK_DIR_NAMES",
    "SourceLayout",
    "SourcePair",
    "UnmatchedFile",
    "Discovery",
    "discover_pairs",
]

SOURCE_LAYOUTS = ("auto", "separate", "suffix", "nnunet", "kaggle", "pattern")
IMAGE_DIR_NAMES = (
    "images", "image", "imgs", "img", "tissue_images", "inputs", "input", "originals", "raw",
)  # fmt: skip
MASK_DIR_NAMES = (
    "masks", "mask", "labels", "label", "binary_masks", "annotations", "groundtruth",
    "ground_truth", "gt", "targets", "target", "segmentations", "segmentation",
)  # fmt: skip
_AUTO_ORDER = ("kaggle", "nnunet", "separate", "suffix")
# Mask keywords tried for the suffix layout when none is named explicitly.
COMMON_KEYWORDS = ("_mask", "_masks", "_label", "_labels", "_seg", "_gt", "-mask", "-label")
_NNUNET_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


def _bad(field: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"source layout field '{field}': invalid value {value!r}; {allowed}")


@dataclass(frozen=True)
class SourceLayout:
    """How to read a source data set (default: detect the layout).

    Parameters
    ----------
    layout : {'auto', 'separate', 'suffix', 'nnunet', 'kaggle', 'pattern'}
    mask_keyword : str, optional
        Marks a mask file (``a_mask.png``); default: the template's keyword.
    image_dir, mask_dir : str, optional
        For ``separate``: the two folders, relative to the source (both or neither).
    image_pattern, mask_pattern : str, optional
        For ``pattern``: regular expressions searched in each file's relative path; the named
        group ``key`` (or the first group) must be equal for an image and its mask.
    """

    layout: str = "auto"
    mask_keyword: str | None = None
    image_dir: str | None = None
    mask_dir: str | None = None
    image_pattern: str | None = None
    mask_pattern: str | None = None

    def __post_init__(self) -> None:
        if self.layout not in SOURCE_LAYOUTS:
            raise _bad("layout", self.layout, f"expected one of {', '.join(SOURCE_LAYOUTS)}")
        if self.mask_keyword is not None and (
            not self.mask_keyword or "/" in self.mask_keyword or "\\" in self.mask_keyword
        ):
            raise _bad("mask_keyword", self.mask_keyword, "a keyword without path separators")
        if (self.image_dir is None) != (self.mask_dir is None):
            raise _bad(
                "image_dir" if self.image_dir is None else "mask_dir",
                None,
                "give both image_dir and mask_dir, or neither",
            )
        if self.image_dir is not None and self.layout not in ("auto", "separate"):
            raise _bad("layout", self.layout, "image_dir/mask_dir go with layout 'separate'")
        if (self.image_pattern is None) != (self.mask_pattern is None):
            raise _bad(
                "image_pattern" if self.image_pattern is None else "mask_pattern",
                None,
                "give both image_pattern and mask_pattern, or neither",
            )
        for name in ("image_pattern", "mask_pattern"):
            pattern = getattr(self, name)
            if pattern is None:
                continue
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise _bad(name, pattern, f"a valid regular expression ({exc})") from None
            if compiled.groups < 1:
                raise _bad(name, pattern, "a regular expression with a capture group (the key)")
        if self.image_pattern is not None and self.layout not in ("auto", "pattern"):
            raise _bad("layout", self.layout, "image_pattern/mask_pattern go with 'pattern'")
        if self.layout == "pattern" and self.image_pattern is None:
            raise _bad(
                "image_pattern", None, "layout 'pattern' needs image_pattern and mask_pattern"
            )

    @property
    def resolved(self) -> str:
        """The layout, with explicit folders or patterns implying theirs."""
        if self.image_pattern is not None:
            return "pattern"
        if self.image_dir is not None:
            return "separate"
        return self.layout

    def to_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "mask_keyword": self.mask_keyword,
            "image_dir": self.image_dir,
            "mask_dir": self.mask_dir,
            "image_pattern": self.image_pattern,
            "mask_pattern": self.mask_pattern,
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
    """

    name: str
    image: str
    masks: tuple[str, ...]
    mask_folder: str | None = None

    @property
    def source_mask(self) -> str:
        """The mask file, or the folder of merged mask files."""
        return self.mask_folder if self.mask_folder is not None else self.masks[0]


@dataclass(frozen=True)
class UnmatchedFile:
    """A file that is not part of any pair, and why."""

    file: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Discovery:
    """The pairs found in a source data set and the files left over."""

    root: Path
    layout: str
    mask_keyword: str
    pairs: tuple[SourcePair, ...]
    images_without_mask: tuple[str, ...]
    masks_without_image: tuple[str, ...]
    unrelated: tuple[UnmatchedFile, ...]
    other_files: tuple[str, ...]


@dataclass
class _Found:
    pairs: list[tuple[str, tuple[str, ...], str | None, str]]  # image, masks, folder, stem
    images_without_mask: list[str]
    masks_without_image: list[str]
    unrelated: list[UnmatchedFile]
    keyword: str | None = None

    def pair_by_key(
        self,
        images: dict[str, list[str]],
        masks: dict[str, list[str]],
        ambiguous: Callable[[str, list[str]], str],
    ) -> None:
        """Pair the one image and the one mask of every key (``masks`` is consumed).

        A key with several images or masks leaves all of them unrelated, with the reason
        ``ambiguous(key, files)``; the other files are images without a mask or masks
        without an image.
        """
        for key in sorted(images):
            candidates = masks.pop(key, [])
            if len(images[key]) == 1 and len(candidates) == 1:
                self.pairs.append((images[key][0], (candidates[0],), None, _stem(images[key][0])))
            elif not candidates:
                self.images_without_mask.extend(images[key])
            else:
                files = images[key] + candidates
                reason = ambiguous(key, files)
                self.unrelated.extend(UnmatchedFile(f, reason) for f in files)
        for key in sorted(masks):
            self.masks_without_image.extend(masks[key])


def _walk(root: Path) -> tuple[list[str], list[str]]:
    images: list[str] = []
    others: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for f in sorted(filenames):
            if f.startswith("."):
                continue
            rel = f if rel_dir == "." else f"{rel_dir}/{f}"
            (images if f.lower().endswith(IMAGE_EXTENSIONS) else others).append(rel)
    return images, others


def _stem(rel: str) -> str:
    """``PurePosixPath(rel).stem``, without building a path object (called per file)."""
    name = rel.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def _parent(rel: str) -> str:
    """``PurePosixPath(rel).parent.as_posix()``, without building a path object."""
    slash = rel.rfind("/")
    return rel[:slash] if slash >= 0 else "."


def _strip_kw(stem: str, keyword: str) -> str:
    return stem[: -len(keyword)] if keyword and stem.endswith(keyword) and stem != keyword else stem


def _under(rel: str, folder: str) -> str | None:
    """``rel`` relative to ``folder`` (both relative to the root), or None."""
    if folder in ("", "."):
        return rel
    prefix = folder.rstrip("/") + "/"
    return rel[len(prefix) :] if rel.startswith(prefix) else None


def _match_folders(files: list[str], folder_pairs: list[tuple[str, str]], keyword: str) -> _Found:
    found = _Found([], [], [], [])
    claimed: set[str] = set()
    for img_dir, mask_dir in folder_pairs:
        imgs: dict[str, list[str]] = defaultdict(list)
        masks: dict[str, list[str]] = defaultdict(list)
        for f in files:
            if f in claimed:
                continue
            sub = _under(f, mask_dir)
            if sub is not None:
                key = PurePosixPath(sub).with_suffix("").as_posix()
                masks[_strip_kw(key, keyword)].append(f)
                claimed.add(f)
                continue
            sub = _under(f, img_dir)
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


def _separate(files: list[str], keyword: str, opts: SourceLayout, root: Path) -> _Found:
    if opts.image_dir is not None and opts.mask_dir is not None:
        pairs = []
        for name in (opts.image_dir, opts.mask_dir):
            if not (root / name).is_dir():
                raise FileNotFoundError(f"{root / name}: no such folder (source layout)")
        img = PurePosixPath(opts.image_dir).as_posix()
        msk = PurePosixPath(opts.mask_dir).as_posix()
        pairs.append((img, msk))
        return _match_folders(files, pairs, keyword)
    dirs: set[str] = set()
    for f in files:
        p = PurePosixPath(f).parent
        while str(p) != ".":
            dirs.add(p.as_posix())
            p = p.parent
    folder_pairs = []
    for d in sorted(dirs):
        name = PurePosixPath(d).name.lower()
        if name not in IMAGE_DIR_NAMES:
            continue
        parent = PurePosixPath(d).parent
        siblings = {
            PurePosixPath(s).name.lower(): s for s in dirs if PurePosixPath(s).parent == parent
        }
        for mask_name in MASK_DIR_NAMES:
            if mask_name in siblings:
                folder_pairs.append((d, siblings[mask_name]))
                break
    return _match_folders(files, folder_pairs, keyword)


def _suffix(files: list[str], keyword: str) -> _Found:
    found = _Found([], [], [], [], keyword)
    by_dir: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_dir[_parent(f)].append(f)
    for _, group in sorted(by_dir.items()):
        masks = [f for f in group if _stem(f).endswith(keyword) and _stem(f) != keyword]
        images: dict[str, list[str]] = defaultdict(list)
        for f in group:
            if f not in masks:
                images[_stem(f)].append(f)
        paired: set[str] = set()
        for m in masks:
            base = _stem(m)[: -len(keyword)]
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
        for stem, fs in sorted(images.items()):
            if stem in paired:
                continue
            owner = next(
                (b for b in sorted(paired, key=len, reverse=True)
                 if stem.startswith(b) and len(stem) > len(b) and stem[len(b)] in "_-. "),
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


def _nnunet(files: list[str]) -> _Found:
    found = _Found([], [], [], [])
    folders: dict[str, tuple[str, str]] = {}
    for f in files:
        parent = PurePosixPath(f).parent
        name = parent.name
        if name.startswith("images") and name[6:] in ("Tr", "Ts", "Va", "Val"):
            folders[parent.as_posix()] = ("image", name[6:])
        elif name.startswith("labels") and name[6:] in ("Tr", "Ts", "Va", "Val"):
            folders[parent.as_posix()] = ("label", name[6:])
    if not folders:
        found.unrelated.extend(UnmatchedFile(f, "not in an nnU-Net folder") for f in files)
        return found
    labels: dict[tuple[str, str], str] = {}
    for f in files:
        kind = folders.get(_parent(f))
        if kind and kind[0] == "label":
            labels[(PurePosixPath(f).parent.parent.as_posix() + "|" + kind[1], _stem(f))] = f
    used: set[str] = set()
    for f in files:
        kind = folders.get(_parent(f))
        if kind is None:
            found.unrelated.append(UnmatchedFile(f, "not in an nnU-Net folder"))
            continue
        if kind[0] == "label":
            continue
        m = _NNUNET_CHANNEL.match(_stem(f))
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


def _kaggle(files: list[str]) -> _Found:
    found = _Found([], [], [], [])
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
        main = [f for f in imgs if _stem(f) == case_name] if len(imgs) > 1 else imgs
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
            mask_dir = _parent(v["masks"][0])
            found.pairs.append((main[0], tuple(sorted(v["masks"])), mask_dir, case_name))
        else:
            found.images_without_mask.append(main[0])
    for f in files:
        if f not in claimed:
            found.unrelated.append(UnmatchedFile(f, "not in a Kaggle ID/images or ID/masks folder"))
    return found


def _pattern(files: list[str], opts: SourceLayout) -> _Found:
    assert opts.image_pattern is not None and opts.mask_pattern is not None
    ipat, mpat = re.compile(opts.image_pattern), re.compile(opts.mask_pattern)
    found = _Found([], [], [], [])

    def key(m: re.Match[str]) -> str:
        return m["key"] if "key" in m.re.groupindex else m.group(1)

    imgs: dict[str, list[str]] = defaultdict(list)
    masks: dict[str, list[str]] = defaultdict(list)
    for f in files:
        mi, mm = ipat.search(f), mpat.search(f)
        if mi and mm:
            found.unrelated.append(UnmatchedFile(f, "matches both the image and the mask pattern"))
        elif mi:
            imgs[key(mi)].append(f)
        elif mm:
            masks[key(mm)].append(f)
        else:
            found.unrelated.append(UnmatchedFile(f, "matches neither pattern"))
    found.pair_by_key(imgs, masks, lambda key, files: f"ambiguous: several files with key {key!r}")
    return found


def _run_layout(
    layout: str, files: list[str], keyword: str, opts: SourceLayout, root: Path
) -> _Found:
    if layout == "separate":
        return _separate(files, keyword, opts, root)
    if layout == "suffix":
        return _suffix(files, keyword)
    if layout == "suffix?":  # keyword not named: also try the common ones
        best: _Found | None = None
        for kw in dict.fromkeys((keyword, *COMMON_KEYWORDS)):
            found = _suffix(files, kw)
            if best is None or len(found.pairs) > len(best.pairs):
                best = found
        assert best is not None
        return best
    if layout == "nnunet":
        return _nnunet(files)
    if layout == "kaggle":
        return _kaggle(files)
    return _pattern(files, opts)


def _safe_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", stem).strip("._") or "pair"
    return name


def _unique_names(found: _Found) -> list[SourcePair]:
    names = [_safe_name(stem) for _, _, _, stem in found.pairs]
    counts: dict[str, int] = defaultdict(int)
    for n in names:
        counts[n] += 1
    out = []
    for (image, masks, folder, _), name in zip(found.pairs, names):
        if counts[name] > 1:
            name = f"{name}_{hashlib.sha1(image.encode('utf-8')).hexdigest()[:6]}"
        out.append(SourcePair(name=name, image=image, masks=masks, mask_folder=folder))
    return sorted(out, key=lambda p: p.name)


def discover_pairs(
    src: str | Path, layout: SourceLayout | str = "auto", *, mask_keyword: str = "_mask"
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
    """
    root = Path(src)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such source folder")
    opts = layout if isinstance(layout, SourceLayout) else SourceLayout(layout=layout)
    keyword = opts.mask_keyword or mask_keyword
    files, others = _walk(root)
    chosen = opts.resolved
    suffix = "suffix" if opts.mask_keyword else "suffix?"
    if chosen == "auto":
        best: tuple[str, _Found] | None = None
        for name in _AUTO_ORDER:
            result = _run_layout(suffix if name == "suffix" else name, files, keyword, opts, root)
            if best is None or len(result.pairs) > len(best[1].pairs):
                best = (name, result)
        assert best is not None
        chosen, found = best
        if not found.pairs:
            chosen = "none"
            reason = "no layout finds a mask for it (name the layout, folders or patterns)"
            found = _Found([], [], [], [UnmatchedFile(f, reason) for f in files])
    else:
        found = _run_layout(suffix if chosen == "suffix" else chosen, files, keyword, opts, root)
    return Discovery(
        root=root,
        layout=chosen,
        mask_keyword=found.keyword or keyword,
        pairs=tuple(_unique_names(found)),
        images_without_mask=tuple(sorted(found.images_without_mask)),
        masks_without_image=tuple(sorted(found.masks_without_image)),
        unrelated=tuple(sorted(found.unrelated, key=lambda u: u.file)),
        other_files=tuple(others),
    )
