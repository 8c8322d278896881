"""The prepare pool: worker count bounded by memory."""

from __future__ import annotations

from segkit.dataset.pool import (
    BYTES_PER_PIXEL,
    WORKER_BASELINE,
    available_memory,
    memory_bounded_workers,
)


def test_small_images_keep_every_core() -> None:
    assert memory_bounded_workers(8, 1000 * 1000, budget=8 << 30) == 8


def test_large_images_get_fewer_workers() -> None:
    per_worker = WORKER_BASELINE + BYTES_PER_PIXEL * 12000 * 12000
    budget = 2 * per_worker + 1
    assert memory_bounded_workers(16, 12000 * 12000, budget=budget) == 2


def test_never_below_one_worker() -> None:
    assert memory_bounded_workers(4, 10**9, budget=1) == 1


def test_available_memory_is_known_here() -> None:
    available = available_memory()
    assert available is not None and available > 64 << 20
    assert 1 <= memory_bounded_workers(4, 10**6) <= 4
