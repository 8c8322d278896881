"""The manifest of a prepared data set (``DST/manifest.json``).

See ``docs/prepared-dataset.md`` for the on-disk format. :func:`load_manifest` reads and
validates it; :mod:`segkit.dataset.pairs` reads the files of one pair.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segkit.files import read_json
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
    source_mpp, mpp : float or None
        Microns per pixel of the source (level 0 of a slide) and of the outputs, when known
        (see :mod:`segkit.dataset.source_mpp`); written only then.
    source_stat : str
        ``size:mtime_ns:ctime_ns:inode`` of a whole slide when its SHA-256 was taken: a later
        ``prepare`` that finds the same reuses the hash instead of reading the slide again
        (any write changes the ctime). Empty for other sources.
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
    source_mpp: float | None = None
    mpp: float | None = None
    source_stat: str = ""

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
        for key in ("source_mpp", "mpp"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.source_stat:
            out["source_stat"] = self.source_stat
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
            source_mpp=_optional_mpp(data, "source_mpp"),
            mpp=_optional_mpp(data, "mpp"),
            source_stat=str(data.get("source_stat") or ""),
        )


def _optional_mpp(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ManifestError(
            f"pair {data.get('name')!r}: field {key!r} is {value!r}; expected microns per pixel > 0"
        )
    return float(value)


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
        data = read_json(path)
    except FileNotFoundError:
        raise ManifestError(
            f"{path}: no manifest; is {p} a data set written by `segkit prepare`?"
        ) from None
    except ValueError as exc:
        raise ManifestError(str(exc)) from None
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
