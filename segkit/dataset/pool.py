"""A process pool that streams results, safe to use next to TensorFlow.

With TensorFlow (or another framework with threads) imported in the parent, forking is not
safe, so workers start from a fork server (or are spawned); otherwise they fork, which
starts fastest. Importing :mod:`segkit.dataset` never imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["default_workers", "imap_unordered"]

T = TypeVar("T")
R = TypeVar("R")

_HEAVY_MODULES = ("tensorflow", "keras", "torch", "jax")


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _context() -> Any:
    import multiprocessing as mp

    if sys.platform.startswith("linux") and not any(m in sys.modules for m in _HEAVY_MODULES):
        return mp.get_context("fork")
    if sys.platform == "win32":  # pragma: no cover
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["segkit.dataset.process", "segkit.dataset.inspect"])
    return ctx


def imap_unordered(
    func: Callable[[T], R], items: Iterable[T], *, workers: int, n_items: int
) -> Iterator[R]:
    """``func`` over ``items`` in ``workers`` processes (in this process when 1), in any order.

    ``func`` must be picklable (a module-level function or a ``functools.partial`` of one).
    Leaving the loop early terminates the workers.
    """
    if workers <= 1 or n_items <= 1:
        for item in items:
            yield func(item)
        return
    chunksize = max(1, min(4, n_items // (workers * 8)))
    pool = _context().Pool(workers)
    try:
        yield from pool.imap_unordered(func, items, chunksize=chunksize)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
