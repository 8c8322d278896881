"""The manifest of a prepared data set (``DST/manifest.json``) and reading pairs from it.

See ``docs/prepared-dataset.md`` for the on-disk format. :func:`load_manifest` reads and
validates it; :func:`load_pair` returns one image and its class-index mask as arrays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segkit.template import DatasetTemplate, TemplateError, parse_template

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "SPLIT_PARTS",
    "OPTIONAL_PARTS",
    "ManifestError",
    "PairRecord",
    "SkippedFile",
    "Manifest",
    "load_manifest",
    "load_pair",
    "load_instances",
    "load_points",
    "compute_fingerprint",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SPLIT_PARTS = ("train", "val", "test")
# Files a pair may have beside its image and mask (each with a ``<part>_sha256``).
OPTIONAL_PARTS = ("instances", "points")


class ManifestError(ValueError):
    """A missing or invalid ``manifest.json``; the message names the file and the problem."""


@dataclass(frozen=True)
class PairRecord:
    """One prepared image/mask pair as listed in the manifest.

    Attributes
    ----------
    name : str
        Unique name of the pair (the output file stem).
    split : {'train', 'val', 'test'}
    group : str
        Group id (slide, patient, or the source image for tiles); one group, one split part.
    image, mask : str
        Output paths relative to the data set root. ``mask`` is empty for a pair that has
        points and no mask (it can count and validate, not train).
    image_sha256, mask_sha256 : str
        SHA-256 of the output files.
    source_image, source_mask : str
        Source paths relative to the manifest's ``source`` (a merged mask lists its folder;
        empty when the mask was rasterised from ``source_annotations`` or there is none).
    source_image_sha256, source_mask_sha256 : str
        SHA-256 of the source files (of all merged files, in order, for a merged mask).
    source_size : (int, int)
        ``(rows, cols)`` of the source image.
    scale : (float, float)
        ``(output rows / source rows, output cols / source cols)`` before padding or cropping.
    tile : (int, int) or None
        ``(row, col)`` in tile units for fit mode ``tile``.
    instances : str
        Output path of the instance label image (uint16/uint32 TIFF, 0 = background, one id per
        object); empty when the source has no separated objects.
    points : str
        Output path of the point annotations (JSON ``[{"x", "y", "class"}]`` in output pixel
        coordinates); empty when the source has none. Points are for counting and validation.
    instances_sha256, points_sha256 : str
        SHA-256 of those files.
    source_annotations : str
        The source annotation file (polygons or points; ``FILE#KEY`` for a Labelbox export),
        relative to ``source``; empty when there is none. Its SHA-256 is part of
        ``source_mask_sha256``.
    """

    name: str
    split: str
    group: str
    image: str
    mask: str
    image_sha256: str = ""
    mask_sha256: str = ""
    source_image: str = ""
    source_mask: str = ""
    source_image_sha256: str = ""
    source_mask_sha256: str = ""
    source_size: tuple[int, int] = (0, 0)
    scale: tuple[float, float] = (1.0, 1.0)
    tile: tuple[int, int] | None = None
    instances: str = ""
    instances_sha256: str = ""
    points: str = ""
    points_sha256: str = ""
    source_annotations: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON entry of this pair (the optional parts only when present)."""
        out = {
            "name": self.name,
            "split": self.split,
            "group": self.group,
            "image": self.image,
            "mask": self.mask,
            "image_sha256": self.image_sha256,
            "mask_sha256": self.mask_sha256,
            "source_image": self.source_image,
            "source_mask": self.source_mask,
            "source_image_sha256": self.source_image_sha256,
            "source_mask_sha256": self.source_mask_sha256,
            "source_size": [int(v) for v in self.source_size],
            "scale": [float(v) for v in self.scale],
            "tile": None if self.tile is None else [int(v) for v in self.tile],
        }
        for part in OPTIONAL_PARTS:
            if getattr(self, part):
                out[part] = getattr(self, part)
                out[f"{part}_sha256"] = getattr(self, f"{part}_sha256")
        if self.source_annotations:
            out["source_annotations"] = self.source_annotations
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairRecord:
        """Build from one entry of ``manifest["pairs"]``."""
        for key in ("name", "split", "group", "image", "mask"):
            if key == "mask" and data.get("points") and data.get(key) == "":
                continue  # a pair with points and no mask
            if not isinstance(data.get(key), str) or not data.get(key):
                raise ManifestError(f"pair {data.get('name')!r}: field '{key}' is missing")
        if data["split"] not in SPLIT_PARTS:
            raise ManifestError(
                f"pair {data['name']!r}: field 'split' is {data['split']!r}; "
                f"expected one of {', '.join(SPLIT_PARTS)}"
            )
        tile = data.get("tile")
        size = data.get("source_size") or (0, 0)
        scale = data.get("scale") or (1.0, 1.0)
        return cls(
            name=data["name"],
            split=data["split"],
            group=data["group"],
            image=data["image"],
            mask=data["mask"],
            image_sha256=str(data.get("image_sha256", "")),
            mask_sha256=str(data.get("mask_sha256", "")),
            source_image=str(data.get("source_image", "")),
            source_mask=str(data.get("source_mask", "")),
            source_image_sha256=str(data.get("source_image_sha256", "")),
            source_mask_sha256=str(data.get("source_mask_sha256", "")),
            source_size=(int(size[0]), int(size[1])),
            scale=(float(scale[0]), float(scale[1])),
            tile=None if tile is None else (int(tile[0]), int(tile[1])),
            **{
                key: str(data.get(key) or "")
                for part in OPTIONAL_PARTS
                for key in (part, f"{part}_sha256")
            },
            source_annotations=str(data.get("source_annotations") or ""),
        )


@dataclass(frozen=True)
class SkippedFile:
    """A source file left out of the prepared data set, and why."""

    file: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Manifest:
    """A prepared data set: its template, fingerprint and pairs.

    Attributes
    ----------
    root : Path
        The data set folder (``DST``).
    template : DatasetTemplate
    fingerprint : str
        SHA-256 hex over the template and every output file's SHA-256; it changes when any
        content or the template changes.
    source : str
        Absolute path of the source data set when it was prepared.
    segkit_version : str
    pairs : tuple of PairRecord
    skipped : tuple of SkippedFile
    created : str
        UTC time stamp (ISO 8601).
    """

    root: Path
    template: DatasetTemplate
    fingerprint: str
    source: str
    segkit_version: str
    pairs: tuple[PairRecord, ...]
    skipped: tuple[SkippedFile, ...] = ()
    created: str = ""
    format_version: int = FORMAT_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def split(self, part: str) -> tuple[PairRecord, ...]:
        """The pairs of split part ``part`` (``"train"``, ``"val"`` or ``"test"``)."""
        if part not in SPLIT_PARTS:
            raise ValueError(f"split part {part!r}: expected one of {', '.join(SPLIT_PARTS)}")
        return tuple(p for p in self.pairs if p.split == part)

    def path(self, rel: str) -> Path:
        """Absolute path of a file given relative to the data set root."""
        return self.root / rel

    @property
    def counts(self) -> dict[str, int]:
        """Number of pairs per split part."""
        return {part: sum(1 for p in self.pairs if p.split == part) for part in SPLIT_PARTS}

    def pair(self, name: str) -> PairRecord:
        """The pair called ``name``."""
        for p in self.pairs:
            if p.name == name:
                return p
        raise KeyError(f"{self.root / MANIFEST_NAME}: no pair named {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON content of ``manifest.json``."""
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "segkit_version": self.segkit_version,
            "created": self.created,
            "source": self.source,
            "template": self.template.to_dict(),
            "fingerprint": self.fingerprint,
            "counts": self.counts,
            "pairs": [p.to_dict() for p in self.pairs],
            "skipped": [s.to_dict() for s in self.skipped],
        }
        out.update(dict(self.extra))
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"


def compute_fingerprint(template: DatasetTemplate, pairs: Iterable[PairRecord]) -> str:
    """SHA-256 hex of the template and every output file's SHA-256 (with its path and split).

    Pairs are taken in name order, so the fingerprint does not depend on listing order.
    """
    h = hashlib.sha256()
    h.update(json.dumps(template.to_dict(), sort_keys=True).encode("utf-8"))
    for p in sorted(pairs, key=lambda r: r.name):
        line = f"\n{p.name}\t{p.split}\t{p.image}\t{p.image_sha256}\t{p.mask}\t{p.mask_sha256}"
        for part in OPTIONAL_PARTS:  # only when present: semantic sets keep their fingerprint
            if getattr(p, part):
                line += f"\t{getattr(p, part)}\t{getattr(p, f'{part}_sha256')}"
        h.update(line.encode("utf-8"))
    return h.hexdigest()


def load_manifest(dst: str | Path) -> Manifest:
    """Read ``DST/manifest.json``.

    Parameters
    ----------
    dst : path
        The prepared data set folder, or its ``manifest.json``.

    Returns
    -------
    Manifest

    Raises
    ------
    ManifestError
        Naming the file when it is missing, not JSON, or not a segkit manifest.
    """
    p = Path(dst)
    path = p if p.name == MANIFEST_NAME and p.is_file() else p / MANIFEST_NAME
    root = path.parent.resolve()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(
            f"{path}: no manifest; is {p} a data set written by `segkit prepare`?"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ManifestError(
            f"{path}: format_version {version!r}; this segkit reads version {FORMAT_VERSION}"
        )
    try:
        template = parse_template(data.get("template") or {})
        pairs = tuple(PairRecord.from_dict(d) for d in data.get("pairs") or ())
    except (TemplateError, ManifestError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise ManifestError(f"{path}: {exc}") from None
    skipped = tuple(
        SkippedFile(str(s.get("file", "")), str(s.get("reason", "")))
        for s in data.get("skipped") or ()
    )
    known = {
        "format_version", "segkit_version", "created", "source", "template", "fingerprint",
        "counts", "pairs", "skipped",
    }  # fmt: skip
    return Manifest(
        root=root,
        template=template,
        fingerprint=str(data.get("fingerprint", "")),
        source=str(data.get("source", "")),
        segkit_version=str(data.get("segkit_version", "")),
        pairs=pairs,
        skipped=skipped,
        created=str(data.get("created", "")),
        extra={k: v for k, v in data.items() if k not in known},
    )


def _read_png_like(path: Path) -> np.ndarray:
    from segkit.imaging import read_image

    return read_image(path, max_pixels=None)


def load_pair(manifest: Manifest, pair: PairRecord | str) -> tuple[np.ndarray, np.ndarray]:
    """Read one prepared pair.

    Parameters
    ----------
    manifest : Manifest
    pair : PairRecord or str
        The pair or its name.

    Returns
    -------
    image : (M, N, C) uint8 ndarray
        ``C = manifest.template.channels`` (3 for RGB, 1 for grayscale and binary).
    mask : (M, N) uint8 ndarray
        Class indices: binary templates give {0, 1} (255 on disk is class 1).
    """
    rec = manifest.pair(pair) if isinstance(pair, str) else pair
    if not rec.mask:
        raise ManifestError(_no_mask(manifest, rec))
    template = manifest.template
    image = _read_png_like(manifest.path(rec.image))
    image = _as_channels(image, template.channels, manifest.path(rec.image))
    mask = _read_png_like(manifest.path(rec.mask))
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.dtype != np.uint8:
        mask = mask.astype(np.uint8)
    if template.classes.is_binary:
        mask = (mask > 127).astype(np.uint8)
    if mask.shape != image.shape[:2]:
        raise ManifestError(
            f"{manifest.path(rec.mask)}: mask is {mask.shape[1]}x{mask.shape[0]} but its image "
            f"is {image.shape[1]}x{image.shape[0]}"
        )
    return image, mask


def _no_mask(manifest: Manifest, rec: PairRecord) -> str:
    return (
        f"{manifest.root}: pair {rec.name!r} has points, no mask: use it to count and validate, "
        "not to train"
    )


def _as_channels(image: np.ndarray, channels: int, path: Path) -> np.ndarray:
    from segkit.imaging import to_channels

    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ManifestError(f"{path}: image has {image.shape[2]} channels, expected {channels}")
    return to_channels(image, channels)


def load_instances(manifest: Manifest, pair: PairRecord | str) -> np.ndarray | None:
    """The instance labels of a pair, ``(M, N)`` uint16 or uint32 (0 = background), or None.

    None when the pair has no instance part (its source had no separated objects).
    """
    rec = manifest.pair(pair) if isinstance(pair, str) else pair
    if not rec.instances:
        return None
    import tifffile

    path = manifest.path(rec.instances)
    try:
        labels = tifffile.imread(path)
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: cannot read the instance labels ({exc})") from None
    if labels.ndim != 2 or labels.dtype.kind not in "ui":
        raise ManifestError(f"{path}: expected a 2-D integer label image, got {labels.dtype} "
                            f"{labels.shape}")  # fmt: skip
    return labels


def load_points(manifest: Manifest, pair: PairRecord | str) -> tuple[np.ndarray, tuple[str, ...]]:
    """The point annotations of a pair: ``(N, 2)`` float ``(x, y)`` and N class names.

    An empty array and ``()`` when the pair has no point part.
    """
    rec = manifest.pair(pair) if isinstance(pair, str) else pair
    if not rec.points:
        return np.zeros((0, 2), dtype=float), ()
    path = manifest.path(rec.points)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        xy = np.array([[float(d["x"]), float(d["y"])] for d in items], dtype=float)
        names = tuple(str(d["class"]) for d in items)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ManifestError(f"{path}: cannot read the points ({exc})") from None
    return xy.reshape(-1, 2), names
