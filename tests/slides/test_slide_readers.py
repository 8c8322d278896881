"""Slide readers: every level read back, borders, reader choice, errors, is_slide."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from support import require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")
require_module("openslide", "the slides extra: pip install -e '.[slides]'")

from segkit.imaging import write_image  # noqa: E402
from segkit.slides import (  # noqa: E402
    Reader,
    SlideReadError,
    is_slide,
    make_synthetic_slide,
    open_slide,
    register_reader,
)
from segkit.slides.openslide_reader import OpenSlideSlide, composite_on_white  # noqa: E402
from segkit.slides.pyramid import half  # noqa: E402
from segkit.slides.tiff_reader import TiffSlide  # noqa: E402

KINDS = ("ome", "tiff")


def _whole(slide, level):
    w, h = slide.level_dimensions[level]
    return slide.read_region((0, 0), (w, h), level=level)


def _mean2x(image):
    h, w = image.shape[0] // 2, image.shape[1] // 2
    return image[: 2 * h, : 2 * w].reshape(h, 2, w, 2, 3).astype(float).mean(axis=(1, 3))


@pytest.mark.parametrize("kind", KINDS)
def test_open_slide_picks_the_reader_by_format(lossless_slides, kind):
    expected = TiffSlide if kind == "ome" else OpenSlideSlide
    with open_slide(lossless_slides[kind].path) as slide:
        assert isinstance(slide, expected)


# OpenSlide does not see OME SubIFD pyramids (one level only): OME-TIFF goes to the tiff reader.
@pytest.mark.parametrize(
    ("kind", "reader"), [("ome", TiffSlide), ("tiff", TiffSlide), ("tiff", OpenSlideSlide)]
)
def test_every_level_reads_back_with_its_size_and_pixels(lossless_slides, kind, reader):
    truth = lossless_slides[kind]
    with reader(truth.path) as slide:
        assert slide.level_dimensions == ((1500, 1100), (750, 550), (375, 275))
        assert slide.level_downsamples == pytest.approx((1.0, 2.0, 4.0))
        level0 = _whole(slide, 0)
        np.testing.assert_array_equal(level0, truth.render(0, 1100))
        previous = level0
        for level in (1, 2):
            image = _whole(slide, level)
            assert image.shape == (*slide.level_dimensions[level][::-1], 3)
            np.testing.assert_array_equal(image, half(previous))  # lossless: exact
            assert np.abs(image - _mean2x(previous)).max() <= 0.5 + 1e-9
            previous = image


@pytest.mark.parametrize("kind", KINDS)
def test_jpeg_slides_match_the_source_within_tolerance(slide_dir, kind):
    truth = make_synthetic_slide(
        slide_dir / f"jpeg_{kind}.tif", size=(1024, 768), kind=kind, tile=256, levels=3, seed=5
    )
    with open_slide(truth.path) as slide:
        level0 = _whole(slide, 0).astype(float)
        assert np.abs(level0 - truth.render(0, 768)).mean() < 3.0
        level1 = _whole(slide, 1).astype(float)
        assert np.abs(level1 - _mean2x(level0)).mean() < 3.0


@pytest.mark.parametrize("kind", KINDS)
def test_regions_across_the_border_are_white_outside(lossless_slides, kind):
    truth = lossless_slides[kind]
    source = truth.render(0, 1100)
    with open_slide(truth.path) as slide:
        corner = slide.read_region((-20, -10), (60, 40))
        assert (corner[:10] == 255).all() and (corner[:, :20] == 255).all()
        np.testing.assert_array_equal(corner[10:, 20:], source[:30, :40])
        far = slide.read_region((1480, 1090), (50, 30))
        np.testing.assert_array_equal(far[:10, :20], source[1090:, 1480:])
        assert (far[10:] == 255).all() and (far[:, 20:] == 255).all()
        w, h = slide.level_dimensions[2]
        outside = slide.read_region((w + 5, h + 5), (16, 16), level=2)
        assert outside.shape == (16, 16, 3) and (outside == 255).all()
        inner = slide.read_region((100, 50), (64, 32), level=1)
        np.testing.assert_array_equal(inner, _whole(slide, 1)[50:82, 100:164])


def test_composite_on_white_blends_by_alpha():
    rgba = np.array([[[0, 0, 0, 0], [0, 0, 0, 255], [100, 50, 0, 128]]], dtype=np.uint8)
    np.testing.assert_array_equal(
        composite_on_white(rgba)[0], [[255, 255, 255], [0, 0, 0], [177, 152, 127]]
    )


def test_open_slide_refuses_a_non_slide_file_in_one_line(tmp_path):
    png = write_image(tmp_path / "tile.png", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(SlideReadError, match="tile.png: not a slide segkit can read") as err:
        open_slide(png)
    assert "\n" not in str(err.value)
    strips = tmp_path / "small.tif"
    tifffile.imwrite(strips, np.zeros((64, 64, 3), np.uint8), photometric="rgb")
    with pytest.raises(SlideReadError, match="small.tif"):
        open_slide(strips)
    text = tmp_path / "notes.svs"
    text.write_text("not a slide")
    with pytest.raises(SlideReadError, match="notes.svs"):
        open_slide(text)
    with pytest.raises(FileNotFoundError, match="missing.svs"):
        open_slide(tmp_path / "missing.svs")


def test_is_slide_for_pyramids_and_for_large_single_level_tiffs(lossless_slides, tmp_path):
    assert is_slide(lossless_slides["ome"].path)
    assert is_slide(lossless_slides["tiff"].path)
    tiled = tmp_path / "tiled.tif"
    tifffile.imwrite(tiled, np.zeros((512, 512, 3), np.uint8), photometric="rgb", tile=(256, 256))
    assert not is_slide(tiled)  # below the limit: segkit's in-memory path
    assert is_slide(tiled, max_pixels=100_000)
    with open_slide(tiled) as slide:  # still readable as a slide (OpenSlide: generic-tiff)
        assert slide.level_dimensions == ((512, 512),)
    png = write_image(tmp_path / "tile.png", np.zeros((32, 32, 3), np.uint8))
    assert not is_slide(png, max_pixels=10)


def test_register_reader_refuses_a_second_reader_of_the_same_name():
    with pytest.raises(ValueError, match="already registered"):
        register_reader(Reader("openslide", lambda p: False, OpenSlideSlide))
    with pytest.raises(ValueError, match="no slide reader named"):
        register_reader(Reader("other", lambda p: False, OpenSlideSlide), before="nope")
