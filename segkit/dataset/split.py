"""Deterministic, stable train/val/test assignment by group.

Each group (a slide or patient id, or the pair itself) gets a number in [0, 1) from the
SHA-256 of ``seed`` and its id, and falls into ``train`` below ``split.train``, ``val`` below
``split.train + split.val`` and ``test`` above. The assignment of a group never depends on
the other groups, so it is the same on every machine and adding files never moves the ones
already assigned.

Small data sets: when a part with a non-zero fraction would be empty and at least three
groups exist, the training group whose number lies closest to that part's interval is moved
there, so ``val`` and ``test`` are never empty by bad luck. Pass the assignment of an earlier
run as ``previous`` (``prepare`` does so when it rebuilds a data set) and every group keeps
its part, including a borrowed one, so adding files never moves those already assigned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from segkit.template import SplitSpec

__all__ = ["group_of", "split_value", "assign_splits"]


def group_of(rel_path: str, name: str, pattern: str | None) -> str:
    """Group id of a pair: the first capture group (or whole match) of ``pattern`` in the
    image's relative path, or ``name`` when there is no pattern or it does not match."""
    if pattern is None:
        return name
    m = re.search(pattern, rel_path)
    if m is None:
        return name
    if m.re.groups:
        value = m.group(1)
        return value if value else name
    return m.group(0) or name


def split_value(group: str, seed: int) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``group``."""
    digest = hashlib.sha256(f"{seed}\x00{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _part(u: float, spec: SplitSpec) -> str:
    if u < spec.train:
        return "train"
    if u < spec.train + spec.val:
        return "val"
    return "test" if spec.test > 0 else ("val" if spec.val > 0 else "train")


def assign_splits(
    groups: Iterable[str], spec: SplitSpec, previous: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map every group id to ``"train"``, ``"val"`` or ``"test"`` (see the module docstring).

    Parameters
    ----------
    groups : iterable of str
    spec : SplitSpec
    previous : mapping, optional
        Group to part from an earlier run with the same ``spec``; those groups keep their part.
    """
    values = {g: split_value(g, spec.seed) for g in sorted(set(groups))}
    previous = previous or {}
    parts = {g: previous.get(g) or _part(u, spec) for g, u in values.items()}
    if len(values) < 3:
        return parts
    bounds = {
        "val": (spec.train, spec.train + spec.val),
        "test": (spec.train + spec.val, 1.0),
    }
    for part in ("val", "test"):
        if getattr(spec, part) <= 0 or part in parts.values():
            continue
        lo, hi = bounds[part]
        train = [g for g, p in parts.items() if p == "train" and g not in previous]
        if len(train) < 2:
            continue
        centre = (lo + hi) / 2
        parts[min(train, key=lambda g: (abs(values[g] - centre), g))] = part
    return parts
