"""Adapt a source data set to a template: ``prepare_dataset(src, dst, template)``.

The output is written in a temporary folder beside ``dst`` and renamed into place only when
complete, so an interrupted run leaves no half data set. The source is only read. Pairs are
processed by a pool of worker processes (one per core) that stream: each reads, converts,
writes and forgets one pair at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from segkit.dataset.discover import Discovery, SourceLayout, discover_pairs
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
from segkit.dataset.plan import OutputCheck, check_outputs, files_to_decode, plan_tasks
from segkit.dataset.pool import default_workers, imap_unordered, workers_for_images
from segkit.dataset.prepare_report import PrepareReport
from segkit.dataset.process import (
    PairTask,
    TaskContext,
    TaskResult,
    output_files,
    process_pair,
)
from segkit.dataset.transaction import FolderBusyError, FolderTransaction
from segkit.dataset.verify import keep_checked
from segkit.files import atomic_write_text
from segkit.imaging import DEFAULT_MAX_PIXELS
from segkit.template import DatasetTemplate, load_template, parse_template

__all__ = ["PrepareError", "PrepareReport", "prepare_dataset"]


LINK_OUTSIDE = "link to a target outside the source, not followed (--follow-symlinks)"


class PrepareError(ValueError):
    """``prepare`` cannot go on (no pairs, a bad file with ``strict``, a refused folder)."""


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


def _results(tasks: list[PairTask], ctx: TaskContext, workers: int) -> Iterator[TaskResult]:
    return imap_unordered(
        functools.partial(process_pair, ctx=ctx), tasks, workers=workers, n_items=len(tasks)
    )


def _unpaired(discovery: Discovery) -> list[SkippedFile]:
    out = [SkippedFile(f, "image without a mask") for f in discovery.images_without_mask]
    out += [SkippedFile(f, "mask without an image") for f in discovery.masks_without_image]
    out += [SkippedFile(u.file, u.reason) for u in discovery.unrelated]
    out += [SkippedFile(f, LINK_OUTSIDE) for f in discovery.links_outside]
    return sorted(out, key=lambda s: s.file)


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
    with contextlib.ExitStack() as stack:
        try:
            tx = stack.enter_context(FolderTransaction(dst_path))
        except FolderBusyError as exc:
            raise PrepareError(str(exc)) from None
        previous, check_only = _previous(dst_path, template, overwrite)
        discovery = discover_pairs(src_path, source_layout, mask_keyword=template.mask_keyword)
        if not discovery.pairs:
            raise PrepareError(
                f"{src_path}: no image/mask pairs found (layout {discovery.layout}); name the "
                "layout (--source-layout), the folders (--image-dir/--mask-dir) or patterns "
                "(--image-pattern/--mask-pattern); `segkit inspect` lists what was found"
            )
        outputs = check_outputs(plan_tasks(discovery, template, previous), previous)
        tasks = outputs.tasks
        if check_only:
            _check_unchanged(dst_path, tasks, previous)
        # Without --overwrite an unchanged source is only ever checked, unless earlier outputs
        # were damaged: then they are encoded again (a new folder, swapped in).
        write = not check_only or bool(outputs.damaged)
        n_workers = workers_for_images(
            max(1, min(workers or default_workers(), len(tasks))),
            (src_path / f for f in files_to_decode(tasks, refuse_changes=check_only)),
            max_pixels=max_pixels,
        )
        if write:
            _create_folders(tx, template)
        ctx = TaskContext(
            src=str(src_path),
            out=str(tx.tmp),
            template=template.to_dict(),
            max_pixels=max_pixels,
            previous_root=str(dst_path) if previous is not None else None,
            check_only=not write,
            refuse_changes=check_only,
            source_mpp=_layout(source_layout).mpp,
            point_labels=_layout(source_layout).point_labels,
        )
        records, problems, encoded, reused = _run_all(tasks, ctx, n_workers, strict, progress)
        if not write:
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
        skipped = tuple(problems + _unpaired(discovery))
        _write_manifest(tx.tmp, _new_manifest(dst_path, template, records, skipped, discovery))
        tx.commit()
        manifest = load_manifest(dst_path)
        keep_checked(manifest, outputs.entries)
    return PrepareReport(
        dst=dst_path,
        manifest=manifest,
        layout=discovery.layout,
        encoded=encoded,
        reused=reused,
        skipped=skipped,
        seconds=time.perf_counter() - start,
        workers=n_workers,
        repaired=_repaired(outputs, tasks),
        links_outside=discovery.links_outside,
    )


def _layout(source_layout: SourceLayout | str) -> SourceLayout:
    if isinstance(source_layout, SourceLayout):
        return source_layout
    return SourceLayout(layout=source_layout)


def _previous(
    dst: Path, template: DatasetTemplate, overwrite: bool
) -> tuple[Manifest | None, bool]:
    """The manifest of the data set at ``dst`` (None if none), and whether only to check it."""
    if not (dst.is_dir() and any(dst.iterdir())):
        return None, False
    try:
        previous: Manifest | None = load_manifest(dst)
    except ManifestError:
        previous = None
    if not overwrite and (previous is None or previous.template != template):
        raise FileExistsError(
            f"{dst} exists and is not this data set; pass --overwrite (overwrite=True) to "
            "replace it"
        )
    return previous, not overwrite


def _create_folders(tx: FolderTransaction, template: DatasetTemplate) -> None:
    tmp = tx.create()
    for part in SPLIT_PARTS:
        (tmp / part).mkdir()
        if template.layout == "separate":
            (tmp / part / "images").mkdir()
            (tmp / part / "masks").mkdir()


def _new_manifest(
    dst: Path,
    template: DatasetTemplate,
    records: list[dict[str, Any]],
    skipped: tuple[SkippedFile, ...],
    discovery: Discovery,
) -> Manifest:
    pairs = tuple(sorted((PairRecord.from_dict(r) for r in records), key=lambda r: r.name))
    return Manifest(
        root=dst,
        template=template,
        fingerprint=compute_fingerprint(template, pairs),
        source=str(discovery.root),
        segkit_version=_segkit_version(),
        pairs=pairs,
        skipped=skipped,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        format_version=FORMAT_VERSION,
        extra={"source_layout": discovery.layout},
    )


def _repaired(outputs: OutputCheck, tasks: list[PairTask]) -> tuple[str, ...]:
    """The damaged outputs of the pairs this run prepared (encoded again)."""
    planned = {f for t in tasks if not t.outputs_ok for r in t.previous for f in output_files(r)}
    return tuple(f for f in outputs.damaged if f in planned)


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
            if result.status == "refuse":
                file, reason = result.problems[0]
                raise PrepareError(f"{file}: {reason}")
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
    stats = {p.name: p.source_stat for p in pairs}
    if stats != {p.name: p.source_stat for p in previous.pairs}:
        # a slide touched but unchanged: keep its new stat so that it is not hashed again
        kept = tuple(
            dataclasses.replace(p, source_stat=stats.get(p.name, "")) for p in previous.pairs
        )
        previous = dataclasses.replace(previous, pairs=kept)
        atomic_write_text(dst / MANIFEST_NAME, previous.to_json())
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
        links_outside=discovery.links_outside,
    )


def _segkit_version() -> str:
    try:
        from segkit import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"
