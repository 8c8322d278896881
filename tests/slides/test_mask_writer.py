"""PyramidMaskWriter: band by band into zarr, out as a tiled pyramidal OME-TIFF."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support import REPO_ROOT, require_module

tifffile = require_module("tifffile", "segkit's install requirements: pip install -e .")
require_module("zarr", "the slides extra: pip install -e '.[slides]'")

from segkit.slides.writer import PyramidMaskWriter, default_levels  # noqa: E402


def _mask(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, size=shape, dtype=np.uint8)


def _write(path: Path, mask: np.ndarray, band: int, **kwargs) -> PyramidMaskWriter:
    h, w = mask.shape
    writer = PyramidMaskWriter(path, (w, h), **kwargs)
    for y in range(0, h, band):
        writer.write_band(y, mask[y : y + band])
    return writer


def test_every_level_reads_back_with_the_pixel_size(tmp_path: Path) -> None:
    mask = _mask((1000, 1300))
    out = tmp_path / "a.ome.tif"
    writer = _write(out, mask, 97, mpp=(0.25, 0.5), tile=256)
    assert writer.rows_done == 1000
    assert writer.finish() == out
    assert not writer.store.exists(), "the zarr store is removed once the TIFF is written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ome.tif"]
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome
        levels = tif.series[0].levels
        assert len(levels) == default_levels((1300, 1000), 256) == 4
        for k, level in enumerate(levels):
            step = 2**k
            np.testing.assert_array_equal(level.asarray(), mask[::step, ::step])
        page = tif.pages[0]
        assert page.is_tiled and page.tilewidth == 256
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        ome = tif.ome_metadata
    pixels = tifffile.xml2dict(ome)["OME"]["Image"]["Pixels"]
    assert pixels["PhysicalSizeX"] == pytest.approx(0.25)
    assert pixels["PhysicalSizeY"] == pytest.approx(0.5)
    assert pixels["PhysicalSizeXUnit"] == "µm"


def test_at_least_three_levels_for_a_small_mask(tmp_path: Path) -> None:
    mask = _mask((40, 50))
    writer = _write(tmp_path / "s.ome.tif", mask, 40, mpp=None, tile=256)
    writer.close()
    with tifffile.TiffFile(tmp_path / "s.ome.tif") as tif:
        shapes = [level.shape for level in tif.series[0].levels]
        assert "PhysicalSizeX" not in tif.ome_metadata
    assert shapes == [(40, 50), (20, 25), (10, 13)]


def test_bands_in_order_only(tmp_path: Path) -> None:
    writer = PyramidMaskWriter(tmp_path / "m.ome.tif", (64, 64), mpp=None, tile=32)
    writer.write_band(0, np.ones((10, 64), np.uint8))
    with pytest.raises(ValueError, match="missing"):
        writer.write_band(20, np.ones((5, 64), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        writer.write_band(10, np.ones((5, 63), np.uint8))
    writer.write_band(5, np.full((10, 64), 2, np.uint8))  # rows 5..10 again: ignored
    assert writer.rows_received == 15 and writer.rows_done == 0
    with pytest.raises(ValueError, match="only 15 of 64 rows"):
        writer.finish()


def test_tiles_of_zeros_are_not_stored_and_read_back_as_zeros(tmp_path: Path) -> None:
    mask = np.zeros((700, 900), dtype=np.uint8)  # 3 x 4 tiles of 256 (odd edge tiles)
    mask[300:340, 520:600] = 2  # within tile (1, 2)
    mask[690:, 880:] = 1  # the corner (edge) tile (2, 3)
    out = tmp_path / "z.ome.tif"
    writer = _write(out, mask, 123, mpp=None, tile=256)
    chunks = sorted(
        p.relative_to(writer.store / "0").as_posix()
        for p in (writer.store / "0").rglob("*")
        if p.is_file() and p.name != "zarr.json"
    )
    assert chunks == ["c/1/2", "c/2/3"]
    writer.finish()
    with tifffile.TiffFile(out) as tif:
        for k, level in enumerate(tif.series[0].levels):
            np.testing.assert_array_equal(level.asarray(), mask[:: 2**k, :: 2**k])


def test_a_resumed_writer_keeps_the_stored_tiles_at_every_level(tmp_path: Path) -> None:
    mask = np.zeros((300, 200), dtype=np.uint8)
    mask[10:20, 10:20] = 1  # stored by the first writer only
    mask[200:210, 150:160] = 2
    out = tmp_path / "k.ome.tif"
    first = PyramidMaskWriter(out, (200, 300), mpp=None, tile=64)
    first.write_band(0, mask[:150])
    del first
    again = PyramidMaskWriter(out, (200, 300), mpp=None, tile=64, rows_done=128)
    again.write_band(128, mask[128:])
    again.finish()
    with tifffile.TiffFile(out) as tif:
        for k, level in enumerate(tif.series[0].levels):
            np.testing.assert_array_equal(level.asarray(), mask[:: 2**k, :: 2**k])


def test_a_new_writer_continues_the_stored_rows(tmp_path: Path) -> None:
    mask = _mask((300, 200), seed=3)
    out = tmp_path / "r.ome.tif"
    first = PyramidMaskWriter(out, (200, 300), mpp=(1.0, 1.0), tile=64)
    first.write_band(0, mask[:150])
    assert first.rows_done == 128  # two whole rows of tiles; 22 rows wait in memory
    del first  # "killed": the 22 rows are lost, the store keeps 128
    again = PyramidMaskWriter(out, (200, 300), mpp=(1.0, 1.0), tile=64, rows_done=128)
    again.write_band(100, mask[100:])
    again.finish()
    np.testing.assert_array_equal(tifffile.imread(out), mask)
    with pytest.raises(ValueError, match="whole number"):
        PyramidMaskWriter(out, (200, 300), mpp=None, tile=64, rows_done=100)


_MEMORY_SCRIPT = """
import json, resource, sys
import numpy as np, tifffile, zarr
from segkit.slides.writer import PyramidMaskWriter
size, band = 16000, 250
xx = (np.arange(size, dtype=np.int32) // 61)[None, :]
def rows(y):
    yy = (np.arange(y, y + band, dtype=np.int32) // 47)[:, None]
    return (((yy * 7 + xx * 3) % 5) * 60).astype(np.uint8)
rows(0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
writer = PyramidMaskWriter(sys.argv[1], (size, size), mpp=(0.5, 0.5))
for y in range(0, size, band):
    writer.write_band(y, rows(y))
writer.finish()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with tifffile.TiffFile(sys.argv[1]) as tif:
    levels = [list(level.shape) for level in tif.series[0].levels]
    corner = tif.series[0].levels[2].asarray()
    same = bool((corner[:63] == rows(0)[::4, ::4]).all())
print(json.dumps({"growth_mb": (peak - base) / 1024, "levels": levels, "same": same}))
"""


def test_writing_a_16000_px_mask_keeps_memory_bounded(tmp_path: Path) -> None:
    out = tmp_path / "big.ome.tif"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MEMORY_SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    full_mask_mb = 16000 * 16000 * (1 + 4) / 2**20  # the mask as uint8 + float32: 1220 MB
    assert report["growth_mb"] < 128, report  # about 1/10 of it
    assert report["growth_mb"] < full_mask_mb / 8
    assert report["levels"][0] == [16000, 16000] and len(report["levels"]) == 6
    assert report["same"], "level 2 holds every fourth pixel of the rows written"
