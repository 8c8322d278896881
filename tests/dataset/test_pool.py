"""The prepare pool: worker count bounded by memory."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from segkit.dataset import inspect_dataset, pool, prepare_dataset
from segkit.dataset.pool import (
    BYTES_PER_PIXEL,
    WORKER_BASELINE,
    available_memory,
    memory_bounded_workers,
)
from segkit.template import DatasetTemplate


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


def huge_header_png(width: int, height: int) -> bytes:
    """A small PNG file whose header claims ``width`` x ``height`` grey pixels (truncated)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_a_huge_image_header_means_fewer_workers(
    tmp_path: Path, write_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    for i in range(16):
        write_pair(src / "images" / f"s{i:02d}.png", src / "masks" / f"s{i:02d}.png", i)
    big = 8000 * 8000  # the header alone says how much a worker would need
    budget = WORKER_BASELINE + BYTES_PER_PIXEL * big  # room for one such worker
    monkeypatch.setattr(pool, "available_memory", lambda: int(budget / pool.MEMORY_SHARE) + 1)
    t = DatasetTemplate(height=32, width=32)
    kw: dict[str, Any] = {"workers": 4, "progress": False}
    assert prepare_dataset(src, tmp_path / "a", t, **kw).workers == 4
    assert inspect_dataset(src, workers=4).workers == 4
    (src / "images" / "huge.png").write_bytes(huge_header_png(8000, 8000))
    shutil.copy(src / "masks" / "s00.png", src / "masks" / "huge.png")
    report = prepare_dataset(src, tmp_path / "b", t, **kw)
    assert report.workers == 1 and "1 worker(s)" in report.format()
    assert "huge.png" in {s.file.split("/")[-1] for s in report.skipped}  # it does not decode
    assert inspect_dataset(src, workers=4).workers == 1
    # An image over the pixel limit is refused from its header, so it costs no memory.
    assert prepare_dataset(src, tmp_path / "c", t, max_pixels=10**6, **kw).workers == 4
