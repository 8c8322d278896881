"""Adapt a source data set to a template: ``prepare_dataset(src, dst, template)``.

The output is written in a temporary folder beside ``dst`` and renamed into place only when
complete, so an interrupted run leaves no half data set. The source is only read. Pairs are
processed by a pool of worker processes (one per core) that stream: each reads, converts,
writes and forgets one pair at a time.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from segkit.dataset.discover import Discovery, SourceLayout, SourcePair, discover_pairs
from segkit.dataset.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    SPLIT_PARTS,
    Manifest,
    ManifestError,
    PairRecord,
    SkippedFile,
    compute_fingerprint,
    load_manifest,
)
from segkit.dataset.pool import default_workers, imap_unordered
from segkit.dataset.process import PairTask, TaskContext, TaskResult, process_pair
from segkit.dataset.split import assign_splits, group_of
from segkit.dataset.transaction import FolderTransaction
from segkit.imaging import DEFAULT_MAX_PIXELS
from segkit.template import DatasetTemplate, load_template, parse_template

__all__ = ["PrepareError", "PrepareReport", "prepare_dataset"]


class PrepareError(ValueError):
    """``prepare`` cannot go on (no pairs, a bad file with ``strict``, a refused folder)."""


@dataclass(frozen=True)
class PrepareReport:
    """What :func:`prepare_dataset` did.

    Attributes
    ----------
    dst : Path
    manifest : Manifest
        The manifest of the data set now at ``dst``.
    layout : str
        Source layout used (detected or named).
    encoded, reused : int
        Source pairs converted now, and source pairs whose earlier outputs were kept.
    skipped : tuple of SkippedFile
        Files that did not decode, mismatched sizes, unpaired and unrelated files.
    up_to_date : bool
        ``dst`` already held exactly this data set; nothing was written.
    seconds : float
    """

    dst: Path
    manifest: Manifest
    layout: str
    encoded: int
    reused: int
    skipped: tuple[SkippedFile, ...] = ()
    up_to_date: bool = False
    seconds: float = 0.0
    workers: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return self.manifest.counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "dst": str(self.dst),
            "layout": self.layout,
            "fingerprint": self.manifest.fingerprint,
            "counts": self.counts,
            "pairs": len(self.manifest.pairs),
            "encoded": self.encoded,
            "reused": self.reused,
            "up_to_date": self.up_to_date,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
            "skipped": [s.to_dict() for s in self.skipped],
        }

    def format(self, *, max_items: int = 20) -> str:
        """A short human-readable summary."""
        c = self.counts
        lines = [
            f"prepared data set: {self.dst}",
            f"  source layout: {self.layout}",
            f"  pairs: {len(self.manifest.pairs)} (train {c['train']}, val {c['val']}, "
            f"test {c['test']})",
            f"  template: {self.manifest.template.height}x{self.manifest.template.width} "
            f"{self.manifest.template.image_type} {self.manifest.template.color_model}, "
            f"fit {self.manifest.template.fit}, {self.manifest.template.num_classes} classes",
            f"  fingerprint: {self.manifest.fingerprint}",
        ]
        if self.up_to_date:
            lines.append("  already up to date: nothing written")
        else:
            lines.append(
                f"  source pairs encoded: {self.encoded}, reused unchanged: {self.reused} "
                f"({self.seconds:.1f} s, {self.workers} worker(s))"
            )
        if self.skipped:
            lines.append(f"  skipped files: {len(self.skipped)}")
            for s in self.skipped[:max_items]:
                lines.append(f"    {s.file}: {s.reason}")
            if len(self.skipped) > max_items:
                lines.append(f"    ... and {len(self.skipped) - max_items} more (see manifest)")
        return "\n".join(lines)


def _as_template(template: DatasetTemplate | Mapping[str, Any] | str | Path) -> DatasetTemplate:
    if isinstance(template, DatasetTemplate):
        return template
    if isinstance(template, Mapping):
        return parse_template(template)
    return load_template(template)


def _check_folders(src: Path, dst: Path) -> None:
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such source folder")
    if dst == src or src in dst.parents:
        raise PrepareError(f"{dst}: the output folder may not lie inside the source {src}")
    if dst in src.parents:
        raise PrepareError(f"{dst}: the output folder may not contain the source {src}")
    if dst.exists() and not dst.is_dir():
        raise FileExistsError(f"{dst} exists and is not a folder")


def _plan(
    discovery: Discovery, template: DatasetTemplate, previous: Manifest | None
) -> list[PairTask]:
    pairs = _keep_previous_names(discovery.pairs, previous)
    pattern = template.split.group_pattern
    groups = {p.name: group_of(p.image, p.name, pattern) for p in pairs}
    earlier = None
    if previous is not None and previous.template.split == template.split:
        earlier = {r.group: r.split for r in previous.pairs}
    parts = assign_splits(groups.values(), template.split, earlier)
    old: dict[str, list[dict[str, Any]]] = {}
    if previous is not None and previous.template == template:
        for r in previous.pairs:
            old.setdefault(r.source_image, []).append(r.to_dict())
    tasks = []
    for p in pairs:
        split = parts[groups[p.name]]
        prev = old.get(p.image, [])
        usable = bool(prev) and all(
            r["split"] == split
            and (r["name"] == p.name or r["name"].startswith(p.name + "__r"))
            and r["source_mask"] == (p.mask_folder or p.masks[0])
            for r in prev
        )
        tasks.append(
            PairTask(
                name=p.name,
                split=split,
                group=groups[p.name],
                image=p.image,
                masks=p.masks,
                mask_folder=p.mask_folder,
                previous=tuple(prev) if usable else (),
            )
        )
    return tasks


def _keep_previous_names(
    pairs: tuple[SourcePair, ...], previous: Manifest | None
) -> tuple[SourcePair, ...]:
    """A source pair keeps the name an earlier run gave it, even when a new file with the same
    stem arrived since (which makes fresh names get a hash suffix)."""
    if previous is None:
        return pairs
    old = {
        r.source_image: r.name.rsplit("__r", 1)[0] if r.tile is not None else r.name
        for r in previous.pairs
    }
    wanted = {p.image: old.get(p.image, p.name) for p in pairs}
    counts: dict[str, int] = {}
    for name in wanted.values():
        counts[name] = counts.get(name, 0) + 1
    return tuple(
        replace(p, name=wanted[p.image]) if counts[wanted[p.image]] == 1 else p for p in pairs
    )


def _results(tasks: list[PairTask], ctx: TaskContext, workers: int) -> Iterator[TaskResult]:
    return imap_unordered(
        functools.partial(process_pair, ctx=ctx), tasks, workers=workers, n_items=len(tasks)
    )


def _unpaired(discovery: Discovery) -> list[SkippedFile]:
    out = [SkippedFile(f, "image without a mask") for f in discovery.images_without_mask]
    out += [SkippedFile(f, "mask without an image") for f in discovery.masks_without_image]
    out += [SkippedFile(u.file, u.reason) for u in discovery.unrelated]
    return out


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    path = folder / MANIFEST_NAME
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(manifest.to_json())
        fh.flush()
        os.fsync(fh.fileno())


def prepare_dataset(
    src: str | Path,
    dst: str | Path,
    template: DatasetTemplate | Mapping[str, Any] | str | Path,
    *,
    source_layout: SourceLayout | str = "auto",
    overwrite: bool = False,
    strict: bool = False,
    workers: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> PrepareReport:
    """Adapt the data set in ``src`` to ``template`` and write it to ``dst``.

    Parameters
    ----------
    src : path
        Source data set (any layout :func:`~segkit.dataset.discover_pairs` reads); never modified.
    dst : path
        Output folder; must not lie inside ``src``. See ``docs/prepared-dataset.md``.
    template : DatasetTemplate, dict or path
        The template (a JSON file in segkit's schema or the paper's form is read).
    source_layout : SourceLayout or str
        How to read ``src`` (default: detect).
    overwrite : bool
        Replace an existing ``dst``. Without it an existing data set is only accepted when it
        is already up to date (same template, unchanged source), and then left as it is.
    strict : bool
        Fail on the first file that does not decode or whose mask size differs, instead of
        skipping it and listing it in the report.
    workers : int, optional
        Worker processes (default: one per core).
    max_pixels : int, optional
        Refuse (skip) images with more pixels than this (decompression bombs).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    PrepareReport

    Raises
    ------
    PrepareError
        No pairs found, ``dst`` inside ``src``, every pair failed, or a bad file with ``strict``.
    FileExistsError
        ``dst`` exists, differs, and ``overwrite`` is false.
    """
    start = time.perf_counter()
    template = _as_template(template)
    src_path = Path(src).resolve()
    dst_path = Path(dst).resolve()
    _check_folders(src_path, dst_path)
    previous: Manifest | None = None
    dst_has_content = dst_path.is_dir() and any(dst_path.iterdir())
    if dst_has_content:
        try:
            previous = load_manifest(dst_path)
        except ManifestError:
            previous = None
        if not overwrite and (previous is None or previous.template != template):
            raise FileExistsError(
                f"{dst_path} exists and is not this data set; pass --overwrite "
                "(overwrite=True) to replace it"
            )
    check_only = dst_has_content and not overwrite

    discovery = discover_pairs(src_path, source_layout, mask_keyword=template.mask_keyword)
    if not discovery.pairs:
        raise PrepareError(
            f"{src_path}: no image/mask pairs found (layout {discovery.layout}); name the layout "
            "(--source-layout), the folders (--image-dir/--mask-dir) or patterns "
            "(--image-pattern/--mask-pattern); `segkit inspect` lists what was found"
        )
    tasks = _plan(discovery, template, previous)
    unpaired = _unpaired(discovery)
    if check_only:
        _check_unchanged(dst_path, tasks, previous)
    n_workers = max(1, min(workers or default_workers(), len(tasks)))

    with FolderTransaction(dst_path) as tx:
        if not check_only:
            tmp = tx.create()
            for part in SPLIT_PARTS:
                (tmp / part).mkdir()
                if template.layout == "separate":
                    (tmp / part / "images").mkdir()
                    (tmp / part / "masks").mkdir()
        ctx = TaskContext(
            src=str(src_path),
            out=str(tx.tmp),
            template=template.to_dict(),
            max_pixels=max_pixels,
            previous_root=str(dst_path) if previous is not None else None,
            check_only=check_only,
        )
        records, problems, encoded, reused = _run_all(tasks, ctx, n_workers, strict, progress)
        if check_only:
            assert previous is not None
            report = _up_to_date_report(dst_path, previous, records, discovery, start, n_workers)
            if report is not None:
                return report
            raise FileExistsError(
                f"{dst_path} exists and its source has changed; pass --overwrite to rebuild it"
            )
        if not records:
            first = problems[0] if problems else SkippedFile("", "no pairs")
            raise PrepareError(
                f"{src_path}: every pair failed; first problem: {first.file}: {first.reason}"
            )
        pairs = tuple(sorted((PairRecord.from_dict(r) for r in records), key=lambda r: r.name))
        manifest = Manifest(
            root=dst_path,
            template=template,
            fingerprint=compute_fingerprint(template, pairs),
            source=str(src_path),
            segkit_version=_segkit_version(),
            pairs=pairs,
            skipped=tuple(problems + unpaired),
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            format_version=FORMAT_VERSION,
            extra={"source_layout": discovery.layout},
        )
        _write_manifest(tx.tmp, manifest)
        tx.commit()
    return PrepareReport(
        dst=dst_path,
        manifest=load_manifest(dst_path),
        layout=discovery.layout,
        encoded=encoded,
        reused=reused,
        skipped=tuple(problems + unpaired),
        seconds=time.perf_counter() - start,
        workers=n_workers,
    )


def _run_all(
    tasks: list[PairTask], ctx: TaskContext, workers: int, strict: bool, progress: bool
) -> tuple[list[dict[str, Any]], list[SkippedFile], int, int]:
    from tqdm import tqdm

    records: list[dict[str, Any]] = []
    problems: list[SkippedFile] = []
    encoded = reused = 0
    with tqdm(
        total=len(tasks), unit="pair", desc="prepare", file=sys.stderr, disable=not progress
    ) as bar:
        for result in _results(tasks, ctx, workers):
            bar.update(1)
            if result.status == "changed":
                raise FileExistsError(
                    f"{Path(ctx.previous_root or '')} exists and its source has changed "
                    f"({result.problems[0][0]}); pass --overwrite to rebuild it"
                )
            if result.status == "skip":
                found = [SkippedFile(f, r) for f, r in result.problems]
                if strict:
                    f = found[0]
                    raise PrepareError(f"{f.file}: {f.reason} (strict mode: nothing written)")
                problems.extend(found)
                continue
            records.extend(result.records)
            if result.reused:
                reused += 1
            else:
                encoded += 1
    problems.sort(key=lambda s: s.file)
    return records, problems, encoded, reused


def _check_unchanged(dst: Path, tasks: list[PairTask], previous: Manifest | None) -> None:
    assert previous is not None
    planned = {t.image for t in tasks}
    before = {r.source_image for r in previous.pairs}
    failed_before = {s.file for s in previous.skipped}
    if any(not t.previous and t.image not in failed_before for t in tasks) or not before <= planned:
        raise FileExistsError(
            f"{dst} exists and its source or split has changed; pass --overwrite to rebuild it"
        )


def _up_to_date_report(
    dst: Path,
    previous: Manifest,
    records: list[dict[str, Any]],
    discovery: Discovery,
    start: float,
    workers: int,
) -> PrepareReport | None:
    pairs = tuple(PairRecord.from_dict(r) for r in records)
    if compute_fingerprint(previous.template, pairs) != previous.fingerprint:
        return None
    return PrepareReport(
        dst=dst,
        manifest=previous,
        layout=discovery.layout,
        encoded=0,
        reused=len({p.source_image for p in pairs}),
        skipped=previous.skipped,
        up_to_date=True,
        seconds=time.perf_counter() - start,
        workers=workers,
    )


def _segkit_version() -> str:
    try:
        from segkit import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"
