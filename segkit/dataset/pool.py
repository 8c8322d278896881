"""A process pool that streams results, safe to use next to TensorFlow.

With TensorFlow (or another framework with threads) imported in the parent, forking is not
safe, so workers start from a fork server (or are spawned); otherwise they fork, which
starts fastest. Importing :mod:`segkit.dataset` never imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "available_memory",
    "default_workers",
    "imap_unordered",
    "memory_bounded_workers",
    "tune_worker_malloc",
    "workers_for_images",
]

T = TypeVar("T")
R = TypeVar("R")

_HEAVY_MODULES = ("tensorflow", "keras", "torch", "jax")


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# Bytes a worker holds per decoded pixel at its peak: the decoded image (up to 4 bytes a pixel
# for RGBA, 8 for 16-bit RGBA), its converted and resized copies, the mask and its encodings.
BYTES_PER_PIXEL = 24
WORKER_BASELINE = 96 << 20  # an idle worker: the interpreter, NumPy and Pillow
MEMORY_SHARE = 0.5  # of the memory available when the pool starts


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def memory_bounded_workers(workers: int, largest_pixels: int, *, budget: int | None = None) -> int:
    """At most ``workers``, and few enough that each can hold the largest image at once.

    Parameters
    ----------
    workers : int
        Processes wanted (e.g. one per core).
    largest_pixels : int
        Pixels (rows x cols) of the largest image any worker may decode.
    budget : int, optional
        Bytes all workers together may use; default half the memory available now.

    Returns
    -------
    int
        ``min(workers, budget // per_worker)``, never below 1: one worker always runs, and
        the pixel limit is what keeps a single image within bounds.
    """
    if budget is None:
        available = available_memory()
        if available is None:
            return max(1, workers)
        budget = int(available * MEMORY_SHARE)
    per_worker = WORKER_BASELINE + BYTES_PER_PIXEL * max(0, int(largest_pixels))
    return max(1, min(workers, budget // per_worker))


def workers_for_images(workers: int, paths: Iterable[str | Path], *, max_pixels: int | None) -> int:
    """:func:`memory_bounded_workers` for the largest image of ``paths``, read from headers.

    Reading a header does not decode the pixels (about 0.1 ms a file), so a small file that
    decodes to a huge image is seen before any worker starts. A file whose header does not
    read, or whose pixels exceed ``max_pixels`` (refused from its header, never decoded),
    counts nothing. With ``workers`` 1 no header is read.
    """
    if workers <= 1:
        return 1
    from segkit.imaging import ImageReadError, image_size

    largest = 0
    for path in paths:
        try:
            rows, cols = image_size(path)
        except ImageReadError:
            continue
        pixels = rows * cols
        if max_pixels is None or pixels <= max_pixels:
            largest = max(largest, pixels)
    return memory_bounded_workers(workers, largest)


def tune_worker_malloc() -> bool:
    """Keep freed memory for reuse in a worker process (glibc only; returns False elsewhere).

    Each pair allocates and frees buffers of a few MB. glibc's default thresholds can hand
    that memory back to the kernel after every pair, so the next pair page-faults it in
    again (several ms of system time per pair). Raising the mmap and trim thresholds keeps
    it in the worker's heap; memory stays bounded by the largest pair. Called only in pool
    workers, never in the caller's process.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 32 << 20) == 1
        return bool(libc.mallopt(m_trim_threshold, 256 << 20) == 1 and ok)
    except (OSError, AttributeError):
        return False


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
    pool = _context().Pool(workers, initializer=tune_worker_malloc)
    try:
        yield from pool.imap_unordered(func, items, chunksize=chunksize)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
