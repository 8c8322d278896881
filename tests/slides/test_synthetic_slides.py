"""Generated slides: truth, streaming memory, and a real MoNuSeg tile placed on glass."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support import REPO_ROOT, require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")

from segkit.imaging import read_image  # noqa: E402
from segkit.slides import make_synthetic_slide, open_slide, slide_from_tiles  # noqa: E402


def test_the_truth_says_where_tissue_and_nuclei_are(lossless_slides, tmp_path):
    truth = lossless_slides["ome"]
    cells = truth.tissue_cells()
    assert cells and len(cells) < 6 * 5  # some of the 6 x 5 cells are glass only
    image = truth.render(0, 1100)
    mask = truth.tissue_mask()
    assert mask.shape == (1100, 1500)
    assert (image[~mask] == 255).all() and (image[mask] != 255).any(axis=-1).mean() > 0.99
    col, row = cells[len(cells) // 2]
    labels, positive = truth.cell_truth(col, row)
    assert labels.shape == (256, 256) and labels.dtype == np.uint16
    assert labels.max() <= positive.size and labels.max() > 0
    cell_mask = truth.tissue_mask(location=(col * 256, row * 256), size=(256, 256))
    assert not labels[~cell_mask].any()
    data = json.loads(truth.write_truth(tmp_path / "truth.json").read_text())
    assert data["size"] == [1500, 1100] and [col, row] in data["tissue_cells"]


def test_the_same_seed_gives_the_same_slide(tmp_path):
    a = make_synthetic_slide(tmp_path / "a.tif", size=(600, 400), kind="tiff", tile=256, seed=7)
    b = make_synthetic_slide(tmp_path / "b.tif", size=(600, 400), kind="tiff", tile=256, seed=7)
    assert a.blobs == b.blobs
    np.testing.assert_array_equal(a.render(0, 400), b.render(0, 400))
    with pytest.raises(ValueError, match="tissue_fraction"):
        make_synthetic_slide(tmp_path / "c.tif", tissue_fraction=0.95)
    with pytest.raises(ValueError, match="kind"):
        make_synthetic_slide(tmp_path / "d.tif", size=(256, 256), kind="svs")


_MEMORY = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import segkit.slides, segkit.synthetic, tifffile, scipy.ndimage

    def hwm():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    before = hwm()
    start = time.perf_counter()
    segkit.slides.make_synthetic_slide(sys.argv[1], size=(20000, 20000), levels=5, seed=1)
    print(hwm() - before, time.perf_counter() - start)
    """
)


@pytest.mark.slow
def test_writing_a_20000_pixel_slide_streams_in_little_memory(tmp_path):
    out = tmp_path / "big.ome.tif"
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    growth_mb, seconds = map(float, done.stdout.split())
    print(f"20000 x 20000 slide: {seconds:.1f} s, peak RSS growth {growth_mb:.0f} MB")
    assert growth_mb < 300
    with open_slide(out) as slide:
        assert slide.level_dimensions[0] == (20000, 20000) and len(slide.level_dimensions) == 5
        assert slide.read_region((19990, 19990), (20, 20)).shape == (20, 20, 3)


@pytest.mark.shared_data
def test_a_monuseg_tile_on_glass_reads_back_as_a_slide(shared_data, tmp_path):
    tile = read_image(
        sorted((shared_data / "monuseg2018-train" / "Tissue_Images").glob("*.tif"))[0]
    )
    tile = tile[..., :3]
    out = tmp_path / "monuseg.ome.tif"
    (origin,) = slide_from_tiles(out, tile, mpp=0.2527, compression="zlib", levels=3)
    with open_slide(out) as slide:
        assert slide.mpp == pytest.approx((0.2527, 0.2527))
        assert slide.level_dimensions[0] == (1000 + 512, 1000 + 512)
        np.testing.assert_array_equal(slide.read_region(origin, (1000, 1000)), tile)
        assert (slide.read_region((0, 0), (256, 256)) == 255).all()
        from segkit.slides import detect_tissue

        tissue = detect_tissue(slide, thumbnail_size=756)
        x0, y0 = (round(v / tissue.downsample) for v in origin)
        inside = tissue.mask[y0 + 10 : y0 + 490, x0 + 10 : x0 + 490]
        assert inside.mean() > 0.95 and tissue.mask[: y0 - 10].sum() == 0
