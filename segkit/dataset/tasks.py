"""The work units of ``prepare``: a task, what all tasks share, a result, and reuse.

A task is one source pair (an image with its mask or annotation files) or one whole slide
with its annotations (``slide``: cut into many tiles). A worker hashes the source files
first; when they hash as an earlier run recorded (and its outputs are intact), the earlier
outputs are linked instead of encoded again (:func:`reuse_or_refuse`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segkit.dataset.outputs import link_output, output_files
from segkit.dataset.source_mpp import mpp_fields

__all__ = [
    "PairTask",
    "TaskContext",
    "TaskResult",
    "merged_sha",
    "reuse_or_refuse",
    "same_source",
]


@dataclass(frozen=True)
class PairTask:
    """One source pair (or slide) to prepare.

    ``previous`` holds the manifest records an earlier run wrote for the same source pair
    (same template, name and split part): when the source bytes still hash the same, those
    output files are linked instead of encoded again, unless ``outputs_ok`` is false (an
    output file no longer has the SHA-256 its record lists: it is encoded again). ``slide``:
    ``image`` is a whole slide and ``annotations`` its GeoJSON (:mod:`segkit.dataset.slide_tiles`).
    """

    name: str
    split: str
    group: str
    image: str
    masks: tuple[str, ...]
    mask_folder: str | None = None
    previous: tuple[dict[str, Any], ...] = ()
    outputs_ok: bool = True
    annotations: str | None = None
    annotation_key: str | None = None
    slide: bool = False

    @property
    def source_annotations(self) -> str:
        """The annotation file (``FILE#KEY`` for a Labelbox export), or ""."""
        if self.annotations is None:
            return ""
        return self.annotations + (f"#{self.annotation_key}" if self.annotation_key else "")


@dataclass(frozen=True)
class TaskContext:
    """What every task shares: folders, the template and limits.

    ``check_only``: write nothing; a pair whose earlier outputs cannot be reused is
    ``"changed"``. ``refuse_changes``: a pair whose source differs from the earlier run (or
    that failed then and decodes now) is ``"changed"``; one whose source is the same but whose
    outputs were damaged is encoded again. ``source_mpp``: ``SourceLayout.mpp``, for sources
    whose files do not say their microns per pixel. ``point_labels``:
    ``SourceLayout.point_labels``, the class name of each point ``label_id``.
    """

    src: str
    out: str
    template: dict[str, Any]
    max_pixels: int | None
    previous_root: str | None = None
    check_only: bool = False
    refuse_changes: bool = False
    source_mpp: float | None = None
    point_labels: tuple[tuple[int, str], ...] | None = None


@dataclass(frozen=True)
class TaskResult:
    """``status`` is ``"ok"`` (``records``), ``"skip"`` (``problems``), ``"changed"``, or
    ``"refuse"`` (``problems``: the whole ``prepare`` stops with that line)."""

    status: str
    records: tuple[dict[str, Any], ...] = ()
    problems: tuple[tuple[str, str], ...] = ()
    reused: bool = False


def merged_sha(names: tuple[str, ...], digests: list[str]) -> str:
    """The SHA-256 of one file, or of the lines ``name NUL sha LF`` of several."""
    if len(names) == 1:
        return digests[0]
    h = hashlib.sha256()
    for n, d in zip(names, digests):
        h.update(f"{n}\x00{d}\n".encode())
    return h.hexdigest()


def same_source(
    task: PairTask,
    img_sha: str,
    mask_sha: str,
    source_mpp: float | None = None,
    template_mpp: float | None = None,
) -> bool:
    """The earlier records of ``task`` were made from these bytes (and, when the template
    rescales, from the same source mpp)."""
    return bool(task.previous) and all(
        r.get("source_image_sha256") == img_sha
        and r.get("source_mask_sha256") == mask_sha
        and (template_mpp is None or r.get("source_mpp") == source_mpp)
        for r in task.previous
    )


def _with_mpp(
    record: dict[str, Any], source_mpp: float | None, template_mpp: float | None
) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in ("source_mpp", "mpp")}
    scale = tuple(record.get("scale") or (1.0, 1.0))
    out.update(mpp_fields(source_mpp, template_mpp, (float(scale[0]), float(scale[1]))))
    return out


def reuse_or_refuse(
    task: PairTask,
    ctx: TaskContext,
    img_sha: str,
    mask_sha: str,
    *,
    source_mpp: float | None = None,
    template_mpp: float | None = None,
    updates: dict[str, Any] | None = None,
) -> TaskResult | None:
    """The earlier outputs linked (``"ok"``, reused), ``"changed"``, or None: encode.

    With a template mpp the earlier records must also have this ``source_mpp``; the mpp fields
    of reused records are brought up to date (they are not part of the fingerprint), and so
    are the fields in ``updates`` (a slide's ``source_stat``).
    """
    prev = task.previous
    same = same_source(task, img_sha, mask_sha, source_mpp, template_mpp)
    root = Path(ctx.previous_root) if ctx.previous_root is not None else None
    if (
        task.outputs_ok
        and same
        and root is not None
        and all((root / f).is_file() for r in prev for f in output_files(r))
    ):
        if not ctx.check_only:
            for r in prev:
                for f in output_files(r):
                    link_output(root / f, Path(ctx.out) / f)
        records = tuple(
            _with_mpp(
                dict(r, group=task.group, split=task.split, **(updates or {})),
                source_mpp,
                template_mpp,
            )
            for r in prev
        )
        return TaskResult("ok", records, reused=True)
    if prev and (ctx.check_only or (ctx.refuse_changes and not same)):
        return TaskResult("changed", problems=((task.image, "changed since the last run"),))
    return None
