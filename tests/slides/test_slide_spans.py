"""Slide prediction over tissue spans only: the same mask, buffers that follow the tissue."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from slide_models import array_slide, darkness_model, model_info, tissue_image
from support import require_module

tifffile = require_module("tifffile", "segkit's install requirements: pip install -e .")
require_module("zarr", "the slides extra: pip install -e '.[slides]'")
keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.decision import probabilities_to_mask  # noqa: E402
from segkit.imaging import encode_mask  # noqa: E402
from segkit.inference.tiling import gaussian_importance  # noqa: E402
from segkit.slides import PyramidMaskWriter, predict_slide  # noqa: E402
from segkit.slides.bands import nearest_index  # noqa: E402
from segkit.slides.windows import plan_windows, tissue_test  # noqa: E402


def _level0(path: Path) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        return tif.series[0].levels[0].asarray()


def _dense_reference(model, slide, info, tissue, tile: int, batch_size: int = 4) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The mask by a whole-image blend of the tissue windows (glass: 0), at level 0."""
    plan, _ = plan_windows(model, slide, info, tile_size=tile)
    (hm, wm), (h0, w0), (th, tw) = plan.model_size, plan.full_size, plan.tile
    assert plan.scale == (1.0, 1.0)
    wl, hl = slide.level_dimensions[plan.level]
    image = slide.read_region((0, 0), (wl, hl), level=plan.level).astype(np.float32)
    gh, gw = plan.grid_size
    image = np.pad(image, ((0, gh - hm), (0, gw - wm), (0, 0)))
    weight = gaussian_importance(plan.tile)
    channels = int(model.output_shape[-1])
    total = np.zeros((gh, gw, channels), np.float32)
    norm = np.zeros((gh, gw), np.float32)
    test = tissue_test(tissue, slide, plan)
    for r in plan.rows:
        cols = [c for c in plan.cols if test(r, c)]
        for k in range(0, len(cols), batch_size):
            part = cols[k : k + batch_size]
            batch = np.zeros((batch_size, th, tw, 3), np.float32)
            for n, c in enumerate(part):
                batch[n] = image[r : r + th, c : c + tw]
            pred = np.asarray(model.predict_on_batch(batch), np.float32)
            for n, c in enumerate(part):
                total[r : r + th, c : c + tw] += pred[n] * weight[..., None]
                norm[r : r + th, c : c + tw] += weight
    covered = norm > 0
    norm[~covered] = 1.0
    proba = (total / norm[..., None])[:hm, :wm]
    mask = probabilities_to_mask(proba, threshold=info.threshold)
    mask[~covered[:hm, :wm]] = 0
    mask = encode_mask(mask, info.num_classes)
    return mask[np.ix_(nearest_index(h0, hm), nearest_index(w0, wm))]


def _islands(shape: tuple[int, int], ds: int) -> np.ndarray:
    """Three tissue islands: two side by side in the same rows of windows, one below."""
    mask = np.zeros((shape[0] // ds, shape[1] // ds), dtype=bool)
    h, w = mask.shape
    mask[h // 10 : h // 2, w // 12 : w // 4] = True
    mask[h // 5 : h // 2, w // 2 : w * 2 // 3] = True
    mask[h * 2 // 3 : h * 9 // 10, w * 3 // 4 : w - 2] = True
    return mask


@pytest.mark.parametrize("slide_mpp", [0.5, 0.25])
def test_spans_give_the_mask_of_a_whole_image_blend(tmp_path: Path, slide_mpp: float) -> None:
    # mpp 0.25: level 1 is predicted and the spans are brought to level 0 (nearest)
    shape = (1000, 1300)
    image = tissue_image(shape, seed=11)
    slide = array_slide(image, mpp=slide_mpp)
    model, info = darkness_model(), model_info(mpp=0.5)
    tissue = (_islands(shape, 10), 10)
    expected = _dense_reference(model, slide, info, tissue, tile=64)
    res = predict_slide(
        model, slide, tmp_path, info=info, tile_size=64, tissue=tissue, progress=False
    )
    got = _level0(res.path)
    assert got.shape == shape and res.skipped > res.predicted > 20
    assert (expected > 0).any() and (expected == 0).mean() > 0.5, "tissue and glass"
    np.testing.assert_array_equal(got, expected)
    plan, _ = plan_windows(model, slide, info, tile_size=64)
    full = plan.tile[0] * plan.grid_size[1] * (1 + 1) * 4
    assert 0 < res.band_bytes < full, "only the columns under tissue are buffered"


class _GlassSlide:
    """A slide of glass but for one box of tissue at a fixed place; pixels made on demand."""

    def __init__(self, height: int, width: int, box: tuple[int, int, int, int]) -> None:
        self.path = Path(f"wide{width}.svs")
        self.level_dimensions = ((width, height),)
        self.level_downsamples = (1.0,)
        self.mpp = (0.5, 0.5)
        self.box = box

    def read_region(self, location, size, *, level=0):  # type: ignore[no-untyped-def]
        (x, y), (w, h) = location, size
        yy, xx = np.mgrid[y : y + h, x : x + w]
        y0, y1, x0, x1 = self.box
        inside = (yy >= y0) & (yy < y1) & (xx >= x0) & (xx < x1)
        dark = inside & ((yy // 30 + xx // 30) % 3 == 0)
        rgb = np.where(dark, np.uint8(60), np.where(inside, np.uint8(190), np.uint8(255)))
        return rgb[..., None].repeat(3, axis=2)

    def close(self) -> None:
        pass


def test_band_buffer_and_mask_follow_the_tissue_not_the_width(tmp_path: Path) -> None:
    model, info = darkness_model(), model_info()
    box = (200, 700, 300, 800)
    found = {}
    for width in (1024, 4096):
        slide = _GlassSlide(1000, width, box)
        tissue = np.zeros((1000 // 8, width // 8), dtype=bool)
        tissue[box[0] // 8 : box[1] // 8, box[2] // 8 : box[3] // 8] = True
        res = predict_slide(
            model, slide, tmp_path / str(width), info=info, tile_size=128,
            tissue=(tissue, 8), progress=False,
        )  # fmt: skip
        mask = _level0(res.path)
        found[width] = (res.band_bytes, res.predicted)
        assert mask[box[0] : box[1], box[2] : box[3]].any()
        assert not mask[:, box[3] + 128 :].any() and not mask[: box[0] - 128].any()
    (narrow, n1), (wide, n2) = found[1024], found[4096]
    assert n1 == n2 and narrow == wide > 0, "the band buffer does not grow with the width"
    assert wide < 128 * 4096 * 2 * 4 / 4


def _write(path: Path, width: int) -> tuple[int, int]:
    """A mask ``width`` wide with one 200-px span of labels; (most pending bytes, peak)."""
    writer = PyramidMaskWriter(path, (width, 1500), mpp=(0.5, 0.5), tile=256)
    piece = np.zeros((100, 200), np.uint8)
    piece[20:80, 30:170] = 255
    most = 0
    tracemalloc.start()
    for y in range(0, 1500, 100):
        writer.write_spans(y, 100, [(200, piece)] if 400 <= y < 1100 else [])
        most = max(most, writer.pending_nbytes)
    writer.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return most, peak


def test_the_writer_holds_the_tiles_of_the_spans_whatever_the_width(tmp_path: Path) -> None:
    narrow, narrow_peak = _write(tmp_path / "a.ome.tif", 2000)
    wide, wide_peak = _write(tmp_path / "b.ome.tif", 32000)
    assert narrow == wide == 2 * 256 * 256, "the two tiles under the span"
    assert wide_peak < narrow_peak + 2**20, (narrow_peak, wide_peak)  # 32000 x 256 is 8 MB
    a, b = _level0(tmp_path / "a.ome.tif"), _level0(tmp_path / "b.ome.tif")
    np.testing.assert_array_equal(a, b[:, :2000])
    assert not b[:, 2000:].any() and int(a.sum()) == 7 * 60 * 140 * 255


def test_spans_must_fit_the_rows_and_the_width(tmp_path: Path) -> None:
    writer = PyramidMaskWriter(tmp_path / "c.ome.tif", (300, 100), mpp=None, tile=64)
    with pytest.raises(ValueError, match="piece within 300 columns"):
        writer.write_spans(0, 10, [(250, np.ones((10, 60), np.uint8))])
    with pytest.raises(ValueError, match="piece within 300 columns"):
        writer.write_spans(0, 10, [(0, np.ones((9, 60), np.uint8))])
    writer.discard()


def test_predict_instances_predicts_each_window_once(tmp_path: Path, monkeypatch) -> None:
    from segkit.cli import main
    from segkit.models import save_model
    from segkit.slides import make_synthetic_slide

    made = make_synthetic_slide(
        tmp_path / "once.ome.tif", size=(1000, 800), tissue_fraction=0.3, mpp=0.5, tile=256,
        levels=2, seed=4, compression="zlib",
    )  # fmt: skip
    save_model(darkness_model(), tmp_path / "m", model_info())
    calls: list[int] = []
    original = keras.Model.predict_on_batch

    def counted(self, x):  # type: ignore[no-untyped-def]
        calls.append(len(x))
        return original(self, x)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counted)
    args = [str(tmp_path / "m"), str(made.path), "--tile-size", "128"]
    assert main(["predict", *args, "-o", str(tmp_path / "mask")]) == 0
    mask_only = len(calls)
    calls.clear()
    assert main(["predict", *args, "-o", str(tmp_path / "both"), "--instances"]) == 0
    assert mask_only > 5 and len(calls) == mask_only, "one prediction for mask and nuclei"
    assert (tmp_path / "both" / "once.geojson").is_file()
    np.testing.assert_array_equal(
        _level0(tmp_path / "both" / "once.ome.tif"), _level0(tmp_path / "mask" / "once.ome.tif")
    )
