"""The split is deterministic, stable when files are added, and keeps groups together."""

from __future__ import annotations

from collections import Counter

import pytest

from segkit.dataset.split import assign_splits, group_of, split_value
from segkit.template import SplitSpec


def test_same_split_on_every_run_and_seed_changes_it() -> None:
    groups = [f"g{i}" for i in range(200)]
    a = assign_splits(groups, SplitSpec())
    assert a == assign_splits(list(reversed(groups)), SplitSpec())
    assert a != assign_splits(groups, SplitSpec(seed=1))
    assert 0.0 <= split_value("g1", 0) < 1.0


def test_adding_groups_never_moves_old_ones() -> None:
    old = [f"case{i:04d}" for i in range(300)]
    before = assign_splits(old, SplitSpec())
    after = assign_splits(old + [f"new{i:04d}" for i in range(500)], SplitSpec())
    assert all(after[g] == before[g] for g in old)


def test_fractions_are_respected_roughly() -> None:
    parts = Counter(
        assign_splits([f"x{i}" for i in range(4000)], SplitSpec(0.7, 0.2, 0.1)).values()
    )
    assert abs(parts["train"] / 4000 - 0.7) < 0.03
    assert abs(parts["val"] / 4000 - 0.2) < 0.03
    assert abs(parts["test"] / 4000 - 0.1) < 0.03


def test_zero_fraction_parts_stay_empty() -> None:
    parts = set(assign_splits([f"x{i}" for i in range(100)], SplitSpec(0.9, 0.1, 0.0)).values())
    assert parts == {"train", "val"}


@pytest.mark.parametrize("n", [3, 5, 8, 12])
def test_small_sets_get_val_and_test(n: int) -> None:
    for seed in range(20):
        parts = set(assign_splits([f"t{i}" for i in range(n)], SplitSpec(seed=seed)).values())
        assert parts == {"train", "val", "test"}


def test_group_of() -> None:
    pattern = r"(TCGA-\w\w-\w{4})"
    assert group_of("imgs/TCGA-18-5592-01Z.png", "n", pattern) == "TCGA-18-5592"
    assert group_of("imgs/other.png", "other", pattern) == "other"
    assert group_of("slide03_tile.png", "n", r"slide\d+") == "slide03"
    assert group_of("a.png", "a", None) == "a"


def test_previous_assignment_is_kept() -> None:
    spec = SplitSpec()
    small = [f"t{i}" for i in range(6)]
    first = assign_splits(small, spec)
    assert set(first.values()) == {"train", "val", "test"}  # parts filled by borrowing
    grown = assign_splits(small + [f"n{i}" for i in range(200)], spec, previous=first)
    assert {g: grown[g] for g in small} == first
