"""A predicted mask's pyramid levels, and a mask level drawn over a slide level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from slide_models import array_slide, tissue_image

from segkit.slides import PyramidMaskWriter, mask_level_sizes, mask_over_slide, read_mask_level

SIZE = (1100, 700)  # (width, height): odd halves at the coarser levels


@pytest.fixture()
def mask_file(tmp_path):
    """A binary mask {0, 255} with one rectangle, as predict_slide writes it."""
    mask = np.zeros(SIZE[::-1], dtype=np.uint8)
    mask[200:500, 300:800] = 255
    path = tmp_path / "s.ome.tif"
    with PyramidMaskWriter(path, SIZE, mpp=(0.5, 0.5), tile=256, levels=3) as writer:
        writer.write_band(0, mask)
    return path, mask


def test_mask_levels_are_every_second_pixel(mask_file):
    path, mask = mask_file
    assert mask_level_sizes(path) == [(1100, 700), (550, 350), (275, 175)]
    np.testing.assert_array_equal(read_mask_level(path), mask)
    np.testing.assert_array_equal(read_mask_level(path, 2), mask[::4, ::4])
    with pytest.raises(ValueError, match="levels 0..2"):
        read_mask_level(path, 3)


def test_mask_over_slide_level(mask_file):
    path, mask = mask_file
    image = tissue_image(SIZE[::-1], seed=1)
    slide = array_slide(image, mpp=0.5)
    level_image = slide.read_region((0, 0), slide.level_dimensions[1], level=1)
    picture = mask_over_slide(slide, path, 1, alpha=0.5)
    assert picture.shape == (350, 550, 3) and picture.dtype == np.uint8
    inside, outside = mask[::2, ::2] > 0, mask[::2, ::2] == 0
    np.testing.assert_array_equal(picture[outside], level_image[outside])
    assert (picture[inside] != level_image[inside]).any(axis=1).all()
    outline = mask_over_slide(slide, path, 2, contours=True)
    assert outline.shape == (175, 275, 3)


class _WhiteSlide:
    """A white slide whose level 1 is 3x smaller (no mask level matches it)."""

    path = Path("t.svs")
    level_dimensions = ((1100, 700), (367, 234))
    level_downsamples = (1.0, 3.0)

    def read_region(self, location, size, level=0):
        return np.full((size[1], size[0], 3), 255, dtype=np.uint8)


def test_mask_over_slide_brings_a_mask_level_to_the_slide_level(mask_file):
    path, _ = mask_file
    picture = mask_over_slide(_WhiteSlide(), path, 1, alpha=1.0)  # from mask level 1 (2x)
    assert picture.shape == (234, 367, 3)
    assert (picture[100, 183] != 255).any()  # inside the rectangle (rows 67-167, cols 100-267)
    assert (picture[10, 10] == 255).all() and (picture[200, 300] == 255).all()


def test_mask_over_slide_refuses(mask_file):
    path, _ = mask_file
    slide = array_slide(tissue_image(SIZE[::-1]), mpp=0.5)
    with pytest.raises(ValueError, match="draw level 1 instead"):
        mask_over_slide(slide, path, 0, max_pixels=500_000)
    with pytest.raises(ValueError, match="levels 0..2"):
        mask_over_slide(slide, path, 5)
    other = array_slide(tissue_image((600, 1100)), mpp=0.5)
    with pytest.raises(ValueError, match="not its mask"):
        mask_over_slide(other, path, 1)
