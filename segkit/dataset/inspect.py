"""Report on a source data set before preparing it (``segkit inspect SRC``).

The report lists the pairs found and the layout, images without a mask and masks without an
image, files that fit no rule of the layout, files that do not decode, image/mask size
mismatches, the mask value sets (and what encoding they suggest), image formats and sizes,
and duplicate images (same pixels).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from segkit.dataset.discover import Discovery, SourceLayout, SourcePair, discover_pairs
from segkit.dataset.pool import default_workers, imap_unordered, workers_for_images
from segkit.dataset.source_mpp import annotation_mpp
from segkit.dataset.targets import annotation_summary
from segkit.dataset.walk import describe_links_outside
from segkit.imaging import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    decode_image,
    decode_mask,
    describe_mask_values,
    mask_values,
    merge_masks,
)

__all__ = ["InspectReport", "inspect_dataset"]

_MAX_VALUES = 256


@dataclass(frozen=True)
class InspectReport:
    """What :func:`inspect_dataset` found. All paths are relative to ``root``.

    Attributes
    ----------
    root : Path
    layout : str
        Detected (or named) layout; ``"none"`` when no layout pairs anything.
    pairs : tuple of dict
        ``name``, ``image``, ``mask``, ``image_size`` (rows, cols), ``mask_size``,
        ``image_format`` (e.g. ``"uint8 RGB"``), ``mask_values`` (sorted, capped), ``mask_files``,
        ``mpp`` (the source's microns per pixel, when known; a slide is read from its header).
    images_without_mask, masks_without_image : tuple of str
    unrelated : tuple of dict
        ``file`` and ``reason``: files that fit no rule of the layout (never paired).
    unreadable : tuple of dict
        ``file`` and ``reason``: files that do not decode (or exceed the pixel limit).
    size_mismatches : tuple of dict
        ``name``, ``image``, ``mask``, ``image_size``, ``mask_size``.
    mask_values : tuple
        Union of the mask values of all pairs (integers, or ``"#rrggbb"`` colours), capped.
    mask_encoding : str
        e.g. ``"binary {0,255}"``, ``"instance labels (412 ids)"``.
    duplicates : tuple of tuple of str
        Groups of images with identical pixels.
    image_formats, image_sizes : dict
        Counts by format (``"uint16 gray"``) and by size (``"512x512"``, width x height).
    other_files : tuple of str
        Files that are not images (by extension).
    links_outside : tuple of str
        Links whose target lies outside the source: not followed (``--follow-symlinks``).
    workers : int
        Processes that decoded the files (fewer than asked when the largest image needs it).
    """

    root: Path
    layout: str
    mask_keyword: str
    pairs: tuple[dict[str, Any], ...]
    images_without_mask: tuple[str, ...]
    masks_without_image: tuple[str, ...]
    unrelated: tuple[dict[str, str], ...]
    unreadable: tuple[dict[str, str], ...]
    size_mismatches: tuple[dict[str, Any], ...]
    mask_values: tuple[Any, ...]
    mask_encoding: str
    duplicates: tuple[tuple[str, ...], ...]
    image_formats: dict[str, int]
    image_sizes: dict[str, int]
    other_files: tuple[str, ...] = ()
    links_outside: tuple[str, ...] = ()
    workers: int = 1

    @property
    def n_pairs(self) -> int:
        """Pairs that decode and whose sizes agree."""
        bad = {d["name"] for d in self.size_mismatches}
        return sum(1 for p in self.pairs if p.get("ok") and p["name"] not in bad)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "layout": self.layout,
            "mask_keyword": self.mask_keyword,
            "n_pairs": self.n_pairs,
            "pairs": list(self.pairs),
            "images_without_mask": list(self.images_without_mask),
            "masks_without_image": list(self.masks_without_image),
            "unrelated": list(self.unrelated),
            "unreadable": list(self.unreadable),
            "size_mismatches": list(self.size_mismatches),
            "mask_values": list(self.mask_values),
            "mask_encoding": self.mask_encoding,
            "duplicates": [list(d) for d in self.duplicates],
            "image_formats": dict(self.image_formats),
            "image_sizes": dict(self.image_sizes),
            "other_files": list(self.other_files),
            "links_outside": list(self.links_outside),
            "workers": self.workers,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    def format(self, *, max_items: int = 10) -> str:
        """The printed report."""

        def listing(title: str, items: list[str]) -> list[str]:
            if not items:
                return []
            out = [f"{title}: {len(items)}"]
            out += [f"  {s}" for s in items[:max_items]]
            if len(items) > max_items:
                out.append(f"  ... and {len(items) - max_items} more (see --json)")
            return out

        values = list(self.mask_values)
        shown = ", ".join(str(v) for v in values[:16]) + (" ..." if len(values) > 16 else "")
        lines = [
            f"source: {self.root}",
            f"layout: {self.layout}" + (f" (mask keyword {self.mask_keyword!r})"
                                        if self.layout == "suffix" else ""),
            f"pairs found: {len(self.pairs)} ({self.n_pairs} usable)",
            "image formats: " + _counts(self.image_formats),
            "image sizes (WxH): " + _counts(self.image_sizes),
            f"mask values: {shown or '-'}  -> {self.mask_encoding}",
        ]  # fmt: skip
        merged = [int(p.get("mask_files") or 1) for p in self.pairs]
        if merged and max(merged) > 1:
            lines.append(
                f"masks merged from one file per object: {min(merged)} to {max(merged)} "
                "files per pair"
            )
        annotated = [p for p in self.pairs if p.get("annotations")]
        if annotated:
            no_mask = sum(1 for p in annotated if not p.get("mask"))
            lines.append(
                f"pairs with an annotation file (polygons or points): {len(annotated)}"
                + (f", {no_mask} of them without a mask file" if no_mask else "")
            )
            lines.append("annotation objects: " + _objects(annotated))
        lines += listing("images without a mask", list(self.images_without_mask))
        lines += listing("masks without an image", list(self.masks_without_image))
        lines += listing(
            "files not paired (fit no rule)",
            [f"{u['file']}: {u['reason']}" for u in self.unrelated],
        )
        lines += listing(
            "files that do not decode", [f"{u['file']}: {u['reason']}" for u in self.unreadable]
        )
        lines += listing(
            "image/mask size mismatches",
            [
                f"{d['name']}: image {_wh(d['image_size'])}, mask {_wh(d['mask_size'])}"
                for d in self.size_mismatches
            ],
        )
        lines += listing("duplicate images (same pixels)", [" = ".join(d) for d in self.duplicates])
        if self.other_files:
            lines.append(f"other files (not images): {len(self.other_files)}")
        if self.links_outside:
            lines.append(describe_links_outside(self.links_outside, max_items=max_items))
        return "\n".join(lines)


def _kind(description: str) -> str:
    """``"instance labels (12 ids)"`` -> ``"instance labels"``; binary kinds keep values."""
    return description.split(" (")[0] if "(" in description else description


def _objects(pairs: list[dict[str, Any]]) -> str:
    total: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    for p in pairs:
        found = p.get("annotation_objects") or {}
        total.update({k: found.get(k, 0) for k in ("polygons", "points")})
        classes.update(found.get("classes", {}))
    named = ", ".join(f"{k} {n}" for k, n in sorted(classes.items()))
    return f"{total['polygons']} polygons, {total['points']} points" + (
        f" ({named})" if named else ""
    )


def _wh(size: Any) -> str:
    return f"{size[1]}x{size[0]}" if size else "?"


def _counts(counter: dict[str, int]) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} ({v})" for k, v in items[:6])
    return text + (" ..." if len(items) > 6 else "") if text else "-"


def _describe_image(arr: Any, rel: str) -> str:
    kind = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    return f"{arr.dtype} {kind.get(channels, f'{channels}-channel')} {Path(rel).suffix.lower()[1:]}"


def _inspect_slide(out: dict[str, Any], src: Path, pair: SourcePair, given: float | None) -> None:
    """Describe a whole slide from its header (never decoded whole)."""
    from segkit.slides import open_slide

    out.update(name=pair.name, mask="", mask_files=0, annotations=pair.source_annotations)
    try:
        with closing(open_slide(src / pair.image)) as slide:
            w, h = slide.level_dimensions[0]
            out["image_size"] = [int(h), int(w)]
            out["image_format"] = f"slide, {len(slide.level_dimensions)} levels"
            mpp = None if slide.mpp is None else (slide.mpp[0] + slide.mpp[1]) / 2
    except (OSError, ValueError) as exc:
        out["errors"].append({"file": pair.image, "reason": _short(exc, src / pair.image)})
        return
    out["mpp"] = mpp if mpp is not None else given
    _read_annotations(out, src, pair, None)
    out["ok"] = not out["errors"]


def _read_annotations(
    out: dict[str, Any], src: Path, pair: SourcePair, labels: tuple[tuple[int, str], ...] | None
) -> None:
    """Count the objects of the pair's annotation file (a bad file is one error line)."""
    if not pair.annotations:
        return
    try:
        out["annotation_objects"] = annotation_summary(
            src / pair.annotations, pair.annotation_key, labels
        )
    except ValueError as exc:
        reason = _short(exc, src / pair.annotations)
        if not any(e["file"] == pair.annotations for e in out["errors"]):
            out["errors"].append({"file": pair.annotations, "reason": reason})


def _inspect_one(
    item: tuple[str, SourcePair | None],
    *,
    root: str,
    max_pixels: int | None,
    slides: bool = False,
    source_mpp: float | None = None,
    point_labels: tuple[tuple[int, str], ...] | None = None,
) -> dict[str, Any]:
    """Decode one pair (or a lone image) and describe it; never raises for bad files.

    ``slides``: the pairs are whole slides (layout ``slides``), described from their headers.
    ``mpp`` is the source's microns per pixel when known (:mod:`segkit.dataset.source_mpp`).
    """
    image_rel, pair = item
    src = Path(root)
    out: dict[str, Any] = {"image": image_rel, "ok": False, "errors": []}
    if slides and pair is not None:
        _inspect_slide(out, src, pair, source_mpp)
        return out
    try:
        arr = decode_image((src / image_rel).read_bytes(), src / image_rel, max_pixels=max_pixels)
        out["image_size"] = [int(arr.shape[0]), int(arr.shape[1])]
        out["image_format"] = _describe_image(arr, image_rel)
        h = hashlib.sha256(f"{arr.shape}{arr.dtype}".encode())
        h.update(arr.tobytes())
        out["pixels_sha256"] = h.hexdigest()
        del arr
    except (ImageReadError, OSError) as exc:
        out["errors"].append({"file": image_rel, "reason": _short(exc, src / image_rel)})
    if pair is None:
        return out
    out["name"] = pair.name
    out["mask"] = pair.source_mask
    out["mask_files"] = len(pair.masks)
    out["annotations"] = pair.source_annotations
    try:
        found = annotation_mpp(src / pair.annotations) if pair.annotations else None
    except ValueError as exc:
        found = None
        out["errors"].append({"file": pair.annotations, "reason": _short(exc, src)})
    if found is not None or source_mpp is not None:
        out["mpp"] = found if found is not None else source_mpp
    _read_annotations(out, src, pair, point_labels)
    masks = []
    for rel in pair.masks:
        try:
            masks.append(decode_mask((src / rel).read_bytes(), src / rel, max_pixels=max_pixels))
        except (ImageReadError, OSError) as exc:
            out["errors"].append({"file": rel, "reason": _short(exc, src / rel)})
    if masks and len(masks) == len(pair.masks):
        try:
            mask = merge_masks(masks)
            out["mask_size"] = [int(mask.shape[0]), int(mask.shape[1])]
            out["mask_dtype"] = str(mask.dtype)
            out["mask_values"] = mask_values(mask, limit=_MAX_VALUES)
        except ValueError as exc:
            out["errors"].append({"file": pair.source_mask, "reason": str(exc)})
    out["ok"] = not out["errors"]
    return out


def _short(exc: BaseException, path: Path) -> str:
    msg = str(exc)
    return msg[len(str(path)) + 2 :] if msg.startswith(f"{path}: ") else msg


def inspect_dataset(
    src: str | Path,
    layout: SourceLayout | str = "auto",
    *,
    mask_keyword: str = "_mask",
    workers: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    discovery: Discovery | None = None,
) -> InspectReport:
    """Find the pairs in ``src``, decode every image and mask, and report.

    Parameters
    ----------
    src : path
        Source data set folder (read only).
    layout : SourceLayout or str
        How to read it (default: detect).
    mask_keyword : str
        Mask keyword when ``layout`` does not give one.
    workers : int, optional
        Processes used to decode (default: one per core).
    max_pixels : int, optional
        Images larger than this are reported as unreadable.
    discovery : Discovery, optional
        What :func:`~segkit.dataset.discover_pairs` already found in ``src``; the folder is
        then not searched again (``layout`` and ``mask_keyword`` are not used).

    Returns
    -------
    InspectReport
    """
    if discovery is None:
        discovery = discover_pairs(src, layout, mask_keyword=mask_keyword)
    items: list[tuple[str, SourcePair | None]] = [(p.image, p) for p in discovery.pairs]
    items += [(f, None) for f in discovery.images_without_mask]
    n_workers = max(1, min(workers or default_workers(), len(items) // 4 or 1))
    slides = discovery.layout == "slides"
    files = [f for image, pair in items for f in (image, *(pair.masks if pair else ()))]
    n_workers = workers_for_images(
        n_workers, (discovery.root / f for f in files if not slides), max_pixels=max_pixels
    )
    given = layout.mpp if isinstance(layout, SourceLayout) else None
    func = functools.partial(
        _inspect_one,
        root=str(discovery.root),
        max_pixels=max_pixels,
        slides=slides,
        source_mpp=given,
        point_labels=layout.point_labels if isinstance(layout, SourceLayout) else None,
    )
    results = sorted(
        imap_unordered(func, items, workers=n_workers, n_items=len(items)),
        key=lambda r: r["image"],
    )
    return replace(_report(discovery, results), workers=n_workers)


def _report(discovery: Discovery, results: list[dict[str, Any]]) -> InspectReport:
    pairs: list[dict[str, Any]] = []
    unreadable: list[dict[str, str]] = []
    mismatches: list[dict[str, Any]] = []
    formats: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    union: set[Any] = set()
    by_pixels: dict[str, list[str]] = defaultdict(list)
    for r in results:
        unreadable.extend(r["errors"])
        if "image_format" in r:
            formats[r["image_format"]] += 1
            sizes[_wh(r["image_size"])] += 1
            if "pixels_sha256" in r:  # slides are not decoded
                by_pixels[r["pixels_sha256"]].append(r["image"])
        if "name" not in r:
            continue
        entry: dict[str, Any] = {
            k: r[k] for k in ("name", "image", "mask", "mask_files", "annotations", "ok") if k in r
        }
        for k in ("image_size", "mask_size", "image_format", "mask_values"):
            entry[k] = r.get(k)
        for k in ("mpp", "annotation_objects"):
            if k in r:
                entry[k] = r[k]
        pairs.append(entry)
        if r.get("mask_values"):
            union.update(r["mask_values"])
        if r.get("image_size") and r.get("mask_size") and r["image_size"] != r["mask_size"]:
            mismatches.append(
                {
                    "name": r["name"],
                    "image": r["image"],
                    "mask": r["mask"],
                    "image_size": r["image_size"],
                    "mask_size": r["mask_size"],
                }
            )
    values = sorted(union, key=lambda v: (isinstance(v, str), v))
    kinds = Counter(
        _kind(describe_mask_values(p["mask_values"])) for p in pairs if p.get("mask_values")
    )
    if len(kinds) > 1:
        encoding = "mixed: " + ", ".join(f"{k} ({n})" for k, n in kinds.most_common())
    else:
        encoding = describe_mask_values(values) if values else "-"
        most = max((len(p.get("mask_values") or ()) for p in pairs), default=0)
        if most > 8 and not encoding.startswith("RGB"):
            encoding = f"instance labels (up to {most - 1} ids per mask)"
    duplicates = tuple(tuple(sorted(v)) for v in by_pixels.values() if len(v) > 1)
    return InspectReport(
        root=discovery.root,
        layout=discovery.layout,
        mask_keyword=discovery.mask_keyword,
        pairs=tuple(sorted(pairs, key=lambda p: p["name"])),
        images_without_mask=discovery.images_without_mask,
        masks_without_image=discovery.masks_without_image,
        unrelated=tuple(u.to_dict() for u in discovery.unrelated),
        unreadable=tuple(sorted(unreadable, key=lambda u: u["file"])),
        size_mismatches=tuple(mismatches),
        mask_values=tuple(values[:_MAX_VALUES]),
        mask_encoding=encoding,
        duplicates=tuple(sorted(duplicates)),
        image_formats=dict(formats),
        image_sizes=dict(sizes),
        other_files=discovery.other_files,
        links_outside=discovery.links_outside,
    )
