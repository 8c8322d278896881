"""predict_slide: the streamed mask of a slide, its pyramid, glass, memory and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from slide_models import array_slide, darkness_model, model_info, tissue_image
from support import REPO_ROOT, require_module

tifffile = require_module("tifffile", "segkit's install requirements: pip install -e .")
require_module("zarr", "the slides extra: pip install -e '.[slides]'")

from segkit.imaging import encode_mask  # noqa: E402
from segkit.inference import predict  # noqa: E402
from segkit.slides import ArraySlide, predict_slide, slide_name  # noqa: E402
from segkit.slides.bands import nearest_index  # noqa: E402


def _levels(path: Path) -> list[np.ndarray]:
    with tifffile.TiffFile(path) as tif:
        return [level.asarray() for level in tif.series[0].levels]


@pytest.mark.parametrize("num_classes", [2, 3])
def test_streamed_mask_equals_the_in_memory_prediction(tmp_path: Path, num_classes: int) -> None:
    image = tissue_image((700, 900), seed=1)
    image[:, :100] = 255  # glass, predicted all the same: the tissue mask says "everywhere"
    model, info = darkness_model(num_classes=num_classes), model_info(num_classes=num_classes)
    expected = encode_mask(predict(model, image, info=info, tile_size=128), num_classes)
    assert len(np.unique(expected)) == num_classes, "the test image has every class"

    everywhere = np.ones((70, 90), dtype=bool)
    res = predict_slide(
        model,
        array_slide(image),
        tmp_path,
        info=info,
        tile_size=128,
        tissue=everywhere,
        progress=False,
    )
    assert res.path == tmp_path / "s.ome.tif"
    assert (res.level, res.scale, res.tile_size) == (0, (1.0, 1.0), (128, 128))
    assert res.predicted == res.windows == 7 * 10 and res.skipped == 0
    np.testing.assert_array_equal(_levels(res.path)[0], expected)


def test_the_pyramid_has_the_slide_size_and_pixel_size(tmp_path: Path) -> None:
    # slide at 0.25 µm/px, model at 0.5: level 1 is read as it is, the mask is level-0 sized
    image = tissue_image((800, 1000), seed=2)
    slide = array_slide(image, mpp=0.25)
    model, info = darkness_model(), model_info(mpp=0.5)
    res = predict_slide(model, slide, tmp_path, info=info, tile_size=128, progress=False)
    assert (res.level, res.scale, res.assumed_scale) == (1, (1.0, 1.0), None)
    assert res.size == (1000, 800) and res.mpp == (0.25, 0.25)

    levels = _levels(res.path)
    assert len(levels) >= 3 and levels[0].shape == (800, 1000)
    assert [lv.shape for lv in levels[1:3]] == [(400, 500), (200, 250)]
    small = predict(model, slide.read_region((0, 0), (500, 400), level=1), info=info, tile_size=128)
    up = encode_mask(small, 2)[np.ix_(nearest_index(800, 400), nearest_index(1000, 500))]
    np.testing.assert_array_equal(levels[0], up)
    with tifffile.TiffFile(res.path) as tif:
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]
    assert pixels["PhysicalSizeX"] == pytest.approx(0.25)
    assert pixels["PhysicalSizeY"] == pytest.approx(0.25)


def test_a_level_between_scales_is_resized(tmp_path: Path) -> None:
    image = tissue_image((600, 640), seed=3)
    model, info = darkness_model(), model_info(mpp=0.5)
    res = predict_slide(
        model, array_slide(image, mpp=0.3), tmp_path, info=info, tile_size=128, progress=False
    )
    assert res.level == 0 and res.scale == pytest.approx((0.6, 0.6))
    got = _levels(res.path)[0]
    assert got.shape == (600, 640)
    expected = encode_mask(predict(model, image, info=info.at_mpp(0.3), tile_size=128), 2)
    assert (got == expected).mean() > 0.97


def test_a_slide_without_mpp_warns_and_says_the_scale_assumed(tmp_path: Path) -> None:
    image = tissue_image((512, 512), seed=4)
    model = darkness_model()
    info = model_info(mpp=0.5).replace(scale=(0.5, 0.5))
    with pytest.warns(UserWarning, match="has no microns per pixel") as caught:
        res = predict_slide(
            model, array_slide(image, mpp=None), tmp_path, info=info, tile_size=128, progress=False
        )
    assert res.assumed_scale is not None and "0.5 x 0.5" in res.assumed_scale
    assert str(caught[0].message) == res.assumed_scale
    assert (res.level, res.scale, res.mpp) == (1, (1.0, 1.0), None)
    with tifffile.TiffFile(res.path) as tif:
        assert tif.series[0].levels[0].shape == (512, 512)
        assert "PhysicalSizeX" not in tif.ome_metadata


class _CountingSlide(ArraySlide):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.seen = np.zeros(self.image.shape[:2], dtype=np.int32)  # level-0 reads per pixel

    def read_region(self, location, size, *, level=0):  # type: ignore[no-untyped-def]
        assert level == 0
        (x, y), (w, h) = location, size
        self.seen[y : y + h, x : x + w] += 1
        return super().read_region(location, size, level=level)


def test_glass_windows_are_skipped_and_counted(tmp_path: Path) -> None:
    image = tissue_image((768, 1024), seed=5, glass=True)
    model, info = darkness_model(), model_info()
    expected = encode_mask(predict(model, image, info=info, tile_size=128), 2)

    slide = _CountingSlide(image, mpp=(0.5, 0.5), name="g.svs")
    res = predict_slide(model, slide, tmp_path / "a", info=info, tile_size=128, progress=False)
    assert res.windows == res.predicted + res.skipped and res.skipped > res.windows / 2
    assert slide.seen.all(), "without a tissue mask every window is looked at"
    assert slide.seen.max() == 2, "one region per row: only the rows of windows overlap"
    # the same mask on the tissue; on glass only the toy model's window-edge artefacts (its
    # zero padding), which no neighbouring glass window blends away since none is predicted
    box = np.zeros(image.shape[:2], dtype=bool)
    box[256:512, 256:512] = True
    got = _levels(res.path)[0]
    np.testing.assert_array_equal(got[box], expected[box])
    assert (got[~box] > 0).mean() < 1e-4

    tissue = np.zeros((768 // 16, 1024 // 16), dtype=bool)
    tissue[256 // 16 : 512 // 16, 256 // 16 : 512 // 16] = True
    slide = _CountingSlide(image, mpp=(0.5, 0.5), name="g.svs")
    res2 = predict_slide(
        model, slide, tmp_path / "b", info=info, tile_size=128, tissue=(tissue, 16), progress=False
    )
    looked = slide.seen > 0
    assert looked[256:512, 256:512].all() and looked.mean() < 0.25, "glass is not read"
    assert res2.skipped_share == pytest.approx(res2.skipped / res2.windows) and res2.skipped > 0
    np.testing.assert_array_equal(_levels(res2.path)[0], got)


class _ProceduralSlide:
    """A tall slide whose pixels are made on demand (nothing slide-sized in memory)."""

    def __init__(self, height: int, width: int) -> None:
        self.path = Path("tall.svs")
        self.level_dimensions = ((width, height),)
        self.level_downsamples = (1.0,)
        self.mpp = (0.5, 0.5)

    def read_region(self, location, size, *, level=0):  # type: ignore[no-untyped-def]
        (x, y), (w, h) = location, size
        yy, xx = np.mgrid[y : y + h, x : x + w]
        dark = ((yy // 40 + xx // 40) % 3 == 0)[..., None]
        return np.where(dark, np.uint8(60), np.uint8(200)).repeat(3, axis=2)

    def close(self) -> None:
        pass


def test_memory_is_one_band_whatever_the_height(tmp_path: Path) -> None:
    model, info = darkness_model(), model_info()
    sizes = {}
    for height in (2000, 8000):
        slide = _ProceduralSlide(height, 384)
        tracemalloc.start()
        res = predict_slide(
            model, slide, tmp_path / str(height), info=info, tile_size=128, progress=False
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert res.band_bytes == 128 * 384 * (1 + 1) * 4  # th x width x (K + 1) x float32
        assert peak > res.band_bytes, "the band buffer is traced"
        sizes[height] = peak
        assert _levels(res.path)[0].shape == (height, 384)
    whole = 8000 * 384 * (1 + 4 + 4)  # the mask, probabilities and weights of the slide
    assert sizes[8000] < whole / 4, sizes
    assert sizes[8000] < 1.5 * sizes[2000] + 2**20, "memory does not grow with the height"


_KILLED_SCRIPT = """
import sys
sys.path[:0] = [sys.argv[2], sys.argv[3]]
from slide_models import array_slide, darkness_model, model_info, tissue_image
from segkit.slides import predict_slide
image = tissue_image((1400, 400), seed=7)
predict_slide(darkness_model(delay=0.4), array_slide(image, name="k.ome.tif"), sys.argv[1],
              info=model_info(), tile_size=128, progress=False)
"""


def test_resume_after_sigkill_gives_the_uninterrupted_mask(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    record = out / ".k.slide-progress.json"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    here = Path(__file__).parent
    args = [sys.executable, "-c", textwrap.dedent(_KILLED_SCRIPT), str(out)]
    proc = subprocess.Popen([*args, str(here), str(REPO_ROOT / "tests")], env=env)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if record.is_file() and json.loads(record.read_text())["bands_done"] >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the slow prediction ended before a band was recorded"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    done = json.loads(record.read_text())
    assert not done["finished"] and not (out / "k.ome.tif").exists()
    assert 1 <= done["bands_done"] < 15

    image = tissue_image((1400, 400), seed=7)
    model, info = darkness_model(), model_info()
    slide = array_slide(image, name="k.ome.tif")
    res = predict_slide(model, slide, out, info=info, tile_size=128, progress=False)
    assert res.resumed_from_band == done["bands_done"]
    whole = predict_slide(
        model, slide, tmp_path / "whole", info=info, tile_size=128, progress=False
    )
    assert whole.resumed_from_band == 0
    assert (res.predicted, res.skipped) == (whole.predicted, whole.skipped)
    np.testing.assert_array_equal(_levels(res.path)[0], _levels(whole.path)[0])
    assert sorted(p.name for p in out.iterdir()) == [".k.slide-progress.json", "k.ome.tif"]


def test_a_finished_slide_is_not_predicted_again(tmp_path: Path) -> None:
    image = tissue_image((300, 300), seed=8)
    model, info = darkness_model(), model_info()
    slide = array_slide(image)
    first = predict_slide(model, slide, tmp_path, info=info, tile_size=128, progress=False)
    stamp = first.path.stat().st_mtime_ns

    def refuse(batch):  # type: ignore[no-untyped-def]
        raise AssertionError("predicted again")

    model.predict_on_batch = refuse
    again = predict_slide(model, slide, tmp_path, info=info, tile_size=128, progress=False)
    assert again.resumed_from_band == again.bands and again.path.stat().st_mtime_ns == stamp
    assert again.band_bytes == first.band_bytes
    assert (again.predicted, again.skipped) == (first.predicted, first.skipped)

    with pytest.raises(ValueError, match=r"other settings \(cols, rows, tile\).*resume=False"):
        predict_slide(model, slide, tmp_path, info=info, tile_size=64, progress=False)
    del model.predict_on_batch
    redo = predict_slide(
        model, slide, tmp_path, info=info, tile_size=64, progress=False, resume=False
    )
    assert redo.resumed_from_band == 0 and redo.tile_size == (64, 64)


@pytest.mark.parametrize(
    ("path", "name"),
    [("a.ome.tif", "a"), ("b.svs", "b"), ("/x/c.OME.TIFF", "c"), ("d.mrxs", "d"), ("e", "e")],
)
def test_slide_name_drops_the_extensions(path: str, name: str) -> None:
    assert slide_name(path) == name


def test_an_explicit_level_is_resized_to_the_model_scale(tmp_path: Path) -> None:
    slide = array_slide(tissue_image((512, 640), seed=9), mpp=0.25)
    model, info = darkness_model(), model_info(mpp=0.5)
    res = predict_slide(model, slide, tmp_path, info=info, tile_size=128, level=0, progress=False)
    assert res.level == 0 and res.scale == (0.5, 0.5)
    assert _levels(res.path)[0].shape == (512, 640)
    with pytest.raises(ValueError, match="has levels 0..2"):
        predict_slide(model, slide, tmp_path, info=info, level=5, progress=False)


class _BrokenSlide(ArraySlide):
    def read_region(self, location, size, *, level=0):  # type: ignore[no-untyped-def]
        if location[1] > 200:
            raise OSError("slide.svs: bad tile")
        return super().read_region(location, size, level=level)


def test_a_read_error_stops_the_prediction_and_keeps_the_bands_done(tmp_path: Path) -> None:
    slide = _BrokenSlide(tissue_image((400, 300), seed=10), mpp=(0.5, 0.5), name="b.svs")
    with pytest.raises(OSError, match="bad tile"):
        predict_slide(
            darkness_model(), slide, tmp_path, info=model_info(), tile_size=64, progress=False
        )
    assert not (tmp_path / "b.ome.tif").exists()
    assert (tmp_path / ".b.zarr").is_dir(), "the store waits for a resume"
