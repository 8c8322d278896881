"""What ``prepare`` will do with each source pair: its name, split part, and the earlier outputs
it may reuse.

An earlier output is reused only when the earlier run wrote it for the same source pair under
the same template, name and split part, and the file still has the SHA-256 the manifest lists
(checked through :mod:`segkit.dataset.verify`'s stat cache, so unchanged files are not read
again). A pair with a damaged or missing output is encoded again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from segkit.dataset.discover import Discovery, SourcePair
from segkit.dataset.manifest import Manifest
from segkit.dataset.outputs import output_files
from segkit.dataset.split import assign_splits, group_of
from segkit.dataset.tasks import PairTask
from segkit.dataset.verify import check_listed_files
from segkit.template import DatasetTemplate

__all__ = [
    "OutputCheck",
    "check_outputs",
    "files_to_decode",
    "keep_previous_names",
    "plan_tasks",
    "tile_source_name",
]

SLIDES = "slides"
# The suffix fit mode ``tile`` (``__r0_c1``) and layout ``slides`` (``__x0_y512``) add.
_TILE_SUFFIX = re.compile(r"__(?:r\d+_c\d+|x\d+_y\d+)$")


def tile_source_name(name: str) -> str:
    """The source pair's name of an output pair (``a__r0_c1`` -> ``a``, ``s__x0_y0`` -> ``s``)."""
    return _TILE_SUFFIX.sub("", name)


def plan_tasks(
    discovery: Discovery, template: DatasetTemplate, previous: Manifest | None
) -> list[PairTask]:
    """One task per source pair: name, split part, group, and the earlier records it may reuse."""
    pairs = keep_previous_names(discovery.pairs, previous)
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
            and tile_source_name(r["name"]) == p.name
            and r["source_mask"] == p.source_mask
            and r.get("source_annotations", "") == p.source_annotations
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
                annotations=p.annotations,
                annotation_key=p.annotation_key,
                slide=discovery.layout == SLIDES,
            )
        )
    return tasks


def keep_previous_names(
    pairs: tuple[SourcePair, ...], previous: Manifest | None
) -> tuple[SourcePair, ...]:
    """A source pair keeps the name an earlier run gave it, even when a new file with the same
    stem arrived since (which makes fresh names get a hash suffix)."""
    if previous is None:
        return pairs
    old = {
        r.source_image: tile_source_name(r.name) if r.tile is not None else r.name
        for r in previous.pairs
    }
    wanted = {p.image: old.get(p.image, p.name) for p in pairs}
    counts: dict[str, int] = {}
    for name in wanted.values():
        counts[name] = counts.get(name, 0) + 1
    return tuple(
        replace(p, name=wanted[p.image]) if counts[wanted[p.image]] == 1 else p for p in pairs
    )


@dataclass(frozen=True)
class OutputCheck:
    """The earlier outputs the tasks would reuse, checked against the earlier manifest.

    Attributes
    ----------
    tasks : list of PairTask
        The tasks, ``outputs_ok`` false where an output is damaged or missing.
    damaged : tuple of str
        Those outputs (paths relative to the data set), sorted.
    entries : dict
        The stat cache entries of the outputs checked (see
        :func:`segkit.dataset.verify.keep_checked`).
    """

    tasks: list[PairTask]
    damaged: tuple[str, ...] = ()
    entries: Mapping[str, list[Any]] = field(default_factory=dict)


def check_outputs(tasks: list[PairTask], previous: Manifest | None) -> OutputCheck:
    """Mark the tasks whose earlier outputs no longer hash as ``previous`` lists them."""
    if previous is None or not any(t.previous for t in tasks):
        return OutputCheck(tasks)
    check = check_listed_files(previous)
    bad = set(check.missing) | set(check.changed)
    damaged: set[str] = set()
    marked = []
    for t in tasks:
        files = {f for r in t.previous for f in output_files(r)} & bad
        damaged |= files
        marked.append(replace(t, outputs_ok=False) if files else t)
    return OutputCheck(marked, tuple(sorted(damaged)), check.entries)


def files_to_decode(tasks: list[PairTask], *, refuse_changes: bool) -> Iterator[str]:
    """Source files (relative) that the run may decode: all of them, or with
    ``refuse_changes`` only those of pairs that cannot reuse their earlier outputs."""
    for t in tasks:
        if (refuse_changes and t.previous and t.outputs_ok) or t.slide:
            continue  # a slide is read tile by tile, never decoded whole
        yield t.image
        yield from t.masks
