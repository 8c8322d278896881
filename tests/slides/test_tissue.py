"""Tissue detection on generated slides: found where it is, glass left out."""

from __future__ import annotations

import numpy as np
import pytest
from support import require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")

from segkit.imaging import read_image  # noqa: E402
from segkit.slides import (  # noqa: E402
    ArraySlide,
    detect_tissue,
    make_synthetic_slide,
    open_slide,
    save_tissue_png,
    tissue_png_name,
    tissue_tiles,
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("tissue") / "gen.ome.tif"
    truth = make_synthetic_slide(
        path, size=(6000, 4000), tissue_fraction=0.3, tile=512, levels=4, seed=11
    )
    with open_slide(path) as slide:
        yield truth, slide


@pytest.mark.parametrize("method", ["od", "saturation"])
def test_tissue_is_found_where_it_is_and_glass_is_not(generated, method):
    truth, slide = generated
    tissue = detect_tissue(slide, thumbnail_size=1500, method=method)
    assert 1000 <= max(tissue.mask.shape) <= 2000
    expected = truth.tissue_mask(tissue.downsample, size=tissue.mask.shape[::-1])
    iou = (tissue.mask & expected).sum() / (tissue.mask | expected).sum()
    print(f"tissue IoU ({method}): {iou:.4f}")
    assert iou > 0.95
    assert tissue.mask[~expected].mean() < 0.01  # glass stays glass
    assert abs(tissue.fraction - truth.tissue_fraction) < 0.02


def test_an_empty_slide_has_no_tissue():
    rng = np.random.default_rng(0)
    glass = np.clip(250 + rng.normal(0, 2, (512, 768, 3)), 0, 255).astype(np.uint8)
    assert not detect_tissue(ArraySlide(glass, levels=2), thumbnail_size=256).mask.any()


def test_specks_below_the_area_limit_are_dropped():
    image = np.full((1024, 1024, 3), 255, np.uint8)
    image[100:400, 100:400] = (150, 90, 160)  # 300 x 300 px = 75 x 75 µm at 0.25
    image[700:712, 700:712] = (150, 90, 160)  # a 3 x 3 µm speck
    slide = ArraySlide(image, mpp=(0.25, 0.25), levels=3)
    tissue = detect_tissue(slide, thumbnail_size=512, min_area_um2=100.0)
    assert tissue.mask[75:175, 75:175].all()
    assert not tissue.mask[340:370, 340:370].any()


def test_tissue_tiles_are_the_windows_that_touch_tissue(generated):
    truth, slide = generated
    tissue = detect_tissue(slide, thumbnail_size=1500)
    tile, overlap = 1024, 128
    kept = set(tissue_tiles(tissue, tile, overlap, level_downsample=2.0))
    stride = tile - overlap
    cols = range(0, 3000 - overlap, stride)
    rows = range(0, 2000 - overlap, stride)
    assert kept <= {(x, y) for x in cols for y in rows}
    for x in cols:
        for y in rows:
            inside = truth.tissue_mask(2.0, location=(x, y), size=(tile, tile)).mean()
            if inside > 0.02:
                assert (x, y) in kept
            if inside == 0 and (x, y) in kept:  # only by the outline's blur, near tissue
                near = truth.tissue_mask(2.0, location=(x - 64, y - 64), size=(tile + 128,) * 2)
                assert near.any()
    assert len(kept) < len(cols) * len(rows)
    mostly = set(tissue_tiles(tissue, tile, overlap, level_downsample=2.0, min_fraction=0.5))
    assert mostly and mostly < kept
    with pytest.raises(ValueError, match="overlap"):
        tissue_tiles(tissue, 256, 256)


def test_save_tissue_png_writes_name_tissue_png_with_the_outline(generated, tmp_path):
    truth, slide = generated
    tissue = detect_tissue(slide, thumbnail_size=1000)
    name = tissue_png_name(slide.path)
    assert name == "gen_tissue.png"
    assert tissue_png_name("case 1.svs") == "case 1_tissue.png"
    out = save_tissue_png(tmp_path / name, tissue.thumbnail, tissue)
    picture = read_image(out)
    assert picture.shape == tissue.thumbnail.shape
    green = (picture[..., 0] == 0) & (picture[..., 1] == 200) & (picture[..., 2] == 0)
    assert green.any() and green.sum() < tissue.mask.sum()
    with pytest.raises(ValueError, match="does not match"):
        save_tissue_png(tmp_path / "x.png", tissue.thumbnail, tissue.mask[1:])
