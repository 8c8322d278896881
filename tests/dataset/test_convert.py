"""Resizing rules, fit modes and colour models."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segkit.dataset.fit import fit_pair
from segkit.imaging import (
    binarize,
    resize_image,
    resize_mask,
    threshold_otsu,
    to_color_model,
    to_grayscale,
)

RNG = np.random.default_rng(0)


def test_shrinking_uses_an_area_filter() -> None:
    # A 1-pixel checkerboard averages to grey under an area filter; nearest would keep 0/255.
    board = (np.indices((40, 40)).sum(axis=0) % 2 * 255).astype(np.uint8)
    small = resize_image(board, (20, 20))
    assert small.shape == (20, 20)
    assert np.all(np.abs(small.astype(int) - 128) <= 1)
    ref = np.asarray(Image.fromarray(board).resize((20, 20), Image.Resampling.BOX))
    np.testing.assert_array_equal(small, ref)


def test_enlarging_uses_bilinear() -> None:
    img = RNG.integers(0, 255, (10, 12, 3)).astype(np.uint8)
    big = resize_image(img, (25, 30))
    ref = np.asarray(Image.fromarray(img).resize((30, 25), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(big, ref)
    assert len(np.unique(big)) > len(np.unique(img))  # interpolated values appear


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("size", [(17, 23), (100, 90), (33, 200)])
def test_masks_use_nearest_only(dtype: type, size: tuple[int, int]) -> None:
    mask = RNG.choice([0, 3, 7, 250], size=(50, 60)).astype(dtype)
    out = resize_mask(mask, size)
    assert out.shape == size and out.dtype == dtype
    assert set(np.unique(out)) <= {0, 3, 7, 250}


def test_resize_mask_colour() -> None:
    mask = np.zeros((10, 10, 3), np.uint8)
    mask[:5] = (255, 0, 0)
    out = resize_mask(mask, (4, 4))
    assert out.shape == (4, 4, 3)
    assert {tuple(v) for v in out.reshape(-1, 3)} == {(255, 0, 0), (0, 0, 0)}


def test_fit_stretch_pad_crop() -> None:
    img = RNG.integers(0, 255, (40, 80, 3)).astype(np.uint8)
    mask = np.zeros((40, 80), np.uint8)
    mask[:, :40] = 1
    (s,) = fit_pair(img, mask, (20, 20), "stretch")
    assert s.image.shape == (20, 20, 3) and s.scale == (0.5, 0.25)
    (p,) = fit_pair(img, mask, (20, 20), "pad")
    assert p.image.shape == (20, 20, 3) and p.scale == (0.25, 0.25)
    assert np.all(p.image[:5] == 0) and np.all(p.image[15:] == 0)  # 10 rows of content, centred
    assert np.all(p.mask[:5] == 0)
    (c,) = fit_pair(img, mask, (20, 20), "crop")
    assert c.image.shape == (20, 20, 3) and c.scale == (0.5, 0.5)
    # The centre crop spans source columns 20..60: half foreground, half background.
    assert c.mask[:, :10].all() and not c.mask[:, 10:].any()


def test_fit_tile() -> None:
    img = RNG.integers(1, 255, (50, 70)).astype(np.uint8)
    mask = np.ones((50, 70), np.uint8)
    tiles = list(fit_pair(img, mask, (32, 32), "tile"))
    assert [t.tile for t in tiles] == [(r, c) for r in range(2) for c in range(3)]
    assert all(t.image.shape == (32, 32) and t.scale == (1.0, 1.0) for t in tiles)
    np.testing.assert_array_equal(tiles[0].image, img[:32, :32])  # no rescaling
    last = tiles[-1]
    np.testing.assert_array_equal(last.image[:18, :6], img[32:, 64:])
    assert not last.image[18:].any() and not last.mask[:, 6:].any()  # zero padding


def test_fit_checks_sizes_and_mode() -> None:
    with pytest.raises(ValueError, match="mask is"):
        list(fit_pair(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8), (2, 2), "stretch"))
    with pytest.raises(ValueError, match="fit"):
        list(fit_pair(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), (2, 2), "zoom"))


def test_colour_models() -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 7
    assert to_color_model(rgba, "rgb").shape == (2, 2, 3)
    grey = np.full((2, 2), 9, np.uint8)
    assert to_color_model(grey, "rgb").shape == (2, 2, 3)
    g = to_color_model(rgba, "grayscale")
    assert g.shape == (2, 2) and int(g[0, 0]) == 76  # ITU-R 601: 0.299 * 255
    assert to_grayscale(grey) is grey
    with pytest.raises(ValueError, match="uint8"):
        to_color_model(grey.astype(np.uint16), "rgb")


def test_otsu_binarize() -> None:
    img = np.concatenate([np.full(100, 40), np.full(100, 200)]).astype(np.uint8).reshape(10, 20)
    t = threshold_otsu(img)
    assert 40 <= t < 200
    assert set(np.unique(binarize(img))) == {0, 255}
    assert not binarize(np.full((3, 3), 90, np.uint8)).any()
