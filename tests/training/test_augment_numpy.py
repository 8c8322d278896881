"""The NumPy paired augmentation of the backend-neutral pipeline (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np
import pytest
from zoom_checks import check_zoomed_patch, ramp_and_blocks

from segkit.synthetic import make_synthetic_sample
from segkit.training.augment_numpy import (
    augment_pair,
    center_crop,
    random_patch,
    sample_rng,
    stain_jitter,
)


def _encoded_pair(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """An image whose first channel *is* its mask (times 50), plus a unique position code."""
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, size=(h, w, 1)).astype(np.uint8)
    position = np.arange(h * w, dtype=np.float32).reshape(h, w, 1)
    image = np.concatenate([mask.astype(np.float32) * 50.0, position], axis=-1)
    return image, mask


@pytest.mark.parametrize("shape", [(16, 16), (12, 20)])
def test_geometry_is_paired_and_nothing_is_interpolated(shape):
    image, mask = _encoded_pair(*shape)
    seen = set()
    for s in range(16):
        out_image, out_mask = augment_pair(
            image, mask, sample_rng(0, s), brightness=0.0, contrast=0.0
        )
        assert out_image.shape == image.shape and out_mask.shape == mask.shape
        assert out_image.dtype == np.float32 and out_mask.dtype == np.uint8
        np.testing.assert_array_equal(out_image[..., 0], out_mask[..., 0].astype(np.float32) * 50)
        assert sorted(out_image[..., 1].ravel()) == sorted(image[..., 1].ravel())
        seen.add(out_image[..., 1].tobytes())
    # square: 8 flips x rotations are possible; non-square: 4 (180 degrees only)
    assert len(seen) >= (6 if shape[0] == shape[1] else 3)


def test_seeded_and_intensity_touches_the_image_only():
    image, mask = _encoded_pair(16, 16)
    a = augment_pair(image, mask, sample_rng(3, 4), brightness=0.3, contrast=0.3)
    b = augment_pair(image, mask, sample_rng(3, 4), brightness=0.3, contrast=0.3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    other = augment_pair(image, mask, sample_rng(3, 5), brightness=0.3, contrast=0.3)
    assert not np.array_equal(a[0], other[0])
    assert a[0].min() >= 0 and a[0].max() <= 255
    plain = augment_pair(
        image, mask, sample_rng(3, 4), flip=False, rotate90=False, brightness=0.2, contrast=0.0
    )
    np.testing.assert_array_equal(plain[1], mask)
    shift = plain[0] - np.clip(image, 0, 255)
    assert np.ptp(shift[(image > 60) & (image < 190)]) < 1e-3  # one brightness shift for all


def test_random_patch_cuts_the_same_window():
    image, mask = _encoded_pair(32, 32)
    out_image, out_mask = random_patch(image, mask, 16, sample_rng(1))
    assert out_image.shape == (16, 16, 2) and out_mask.shape == (16, 16, 1)
    np.testing.assert_array_equal(out_image[..., 0], out_mask[..., 0] * 50.0)
    top, left = divmod(int(out_image[0, 0, 1]), 32)
    np.testing.assert_array_equal(out_image, image[top : top + 16, left : left + 16])
    corners = {int(random_patch(image, mask, 16, sample_rng(s))[0][0, 0, 1]) for s in range(8)}
    assert len(corners) > 1
    with pytest.raises(ValueError, match="does not fit"):
        random_patch(image, mask, 40, sample_rng(1))


def test_center_crop_to_multiple():
    image, mask = _encoded_pair(20, 27)
    out_image, out_mask = center_crop(image, mask, 8)
    assert out_image.shape == (16, 24, 2) and out_mask.shape == (16, 24, 1)
    np.testing.assert_array_equal(out_image, image[2:18, 1:25])


def test_stain_jitter_changes_stained_pixels_more_than_glass():
    sample = make_synthetic_sample(64, 64, seed=3)
    image = sample.image.astype(np.float32)
    zero = stain_jitter(image, sample_rng(1), 0.0)
    assert np.abs(zero - image).max() < 1.0  # strength 0: the same image (round trip)
    jittered = stain_jitter(image, sample_rng(1), 0.3)
    assert jittered.shape == image.shape and jittered.dtype == np.float32
    assert 0 <= jittered.min() <= jittered.max() <= 255
    assert np.abs(jittered - image).mean() > 2.0
    np.testing.assert_array_equal(jittered, stain_jitter(image, sample_rng(1), 0.3))
    glass = sample.labels == 0
    assert (
        np.abs(jittered[glass] - image[glass]).mean()
        < np.abs(jittered[~glass] - image[~glass]).mean()
    )
    mask = (sample.labels > 0)[..., None].astype(np.uint8)
    out, out_mask = augment_pair(
        image, mask, sample_rng(2), flip=False, rotate90=False, brightness=0, contrast=0,
        stain_jitter=0.3,
    )  # fmt: skip
    np.testing.assert_array_equal(out_mask, mask)
    assert np.abs(out - image).mean() > 2.0


def test_the_parameters_follow_the_configured_ranges():
    image = np.full((8, 8, 3), 128.0, np.float32)
    mask = np.zeros((8, 8, 1), np.uint8)
    shifts = [
        float(augment_pair(image, mask, sample_rng(s), contrast=0.0, brightness=0.1)[0][0, 0, 0])
        - 128.0
        for s in range(200)
    ]
    assert -25.5 <= min(shifts) < -15 and 15 < max(shifts) <= 25.5  # uniform in +-0.1 * 255


def test_blur_keeps_the_mean_and_smooths_an_edge():
    from segkit.training.augment_numpy import blur_radius, gaussian_blur, gaussian_kernel

    kernel = gaussian_kernel(1.0, 3)
    assert kernel.sum() == pytest.approx(1.0) and kernel[3] == kernel.max()
    np.testing.assert_array_equal(gaussian_kernel(0.0, 2), [0, 0, 1, 0, 0])  # sigma 0: identity
    assert blur_radius(2.0) == 6 and blur_radius(0.4) == 2
    edge = np.zeros((16, 16, 3), np.float32)
    edge[:, 8:] = 200.0
    out = gaussian_blur(edge, 1.5, blur_radius(1.5))
    assert out.mean() == pytest.approx(edge.mean(), rel=1e-4)  # mirrored border: no loss
    assert 0 < out[0, 7, 0] < 100 < out[0, 8, 0] < 200  # the step becomes a ramp
    np.testing.assert_allclose(out[:, :, 0], out[:, :, 1])  # channels alike


def test_hue_and_saturation_change_colour_not_grey():
    from segkit.training.augment_numpy import adjust_hue_saturation

    grey = np.full((2, 2, 3), 120.0, np.float32)
    np.testing.assert_allclose(adjust_hue_saturation(grey, 0.2, 1.5), grey, atol=1e-3)
    red = np.zeros((1, 1, 3), np.float32)
    red[..., 0] = 200.0
    np.testing.assert_allclose(adjust_hue_saturation(red, 1 / 3, 1.0)[0, 0], [0, 200, 0], atol=1e-3)
    pale = adjust_hue_saturation(red, 0.0, 0.5)[0, 0]  # half the saturation: 200, 100, 100
    np.testing.assert_allclose(pale, [200, 100, 100], atol=1e-3)


def test_blur_noise_hue_saturation_touch_the_image_only_and_are_seeded():
    sample = make_synthetic_sample(32, 32, seed=2)
    image = sample.image.astype(np.float32)
    mask = (sample.labels > 0)[..., None].astype(np.uint8)
    options = {"hue": 0.05, "saturation": 0.2, "blur": 1.0, "noise": 0.05}
    a = augment_pair(image, mask, sample_rng(1, 2), flip=False, rotate90=False, **options)
    b = augment_pair(image, mask, sample_rng(1, 2), flip=False, rotate90=False, **options)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], mask)
    assert a[0].min() >= 0 and a[0].max() <= 255 and np.abs(a[0] - image).mean() > 1.0
    # options left at 0 draw nothing: the earlier augmentations are unchanged
    plain = augment_pair(image, mask, sample_rng(1, 2), stain_jitter=0.3)
    extra = augment_pair(image, mask, sample_rng(1, 2), stain_jitter=0.3, noise=0.0, blur=0.0)
    np.testing.assert_array_equal(plain[0], extra[0])
    sigmas = []
    flat = np.zeros((8, 8, 1), np.float32)
    for s in range(100):
        out = augment_pair(flat + 100.0, flat.astype(np.uint8), sample_rng(s), flip=False,
                           rotate90=False, brightness=0.0, contrast=0.0, noise=0.1)[0]  # fmt: skip
        sigmas.append(float(out.std()))
    assert (
        max(sigmas) < 0.1 * 255 * 1.5 and min(sigmas) < 5 and max(sigmas) > 15
    )  # std in [0, 25.5]


def test_zoomed_patches_magnify_within_the_range_and_keep_classes():
    image, mask = ramp_and_blocks(96)
    steps = []
    for s in range(24):
        out_image, out_mask = random_patch(image, mask, 32, sample_rng(5, s), zoom=0.25)
        steps.append(check_zoomed_patch(image, mask, out_image, out_mask, 32, 0.25))
    assert min(steps) < 0.9 and max(steps) > 1.1  # both ways
    # zoom 0 cuts plain windows: a step of exactly one column, the same draws as before
    plain = random_patch(image, mask, 32, sample_rng(5, 0))
    again = random_patch(image, mask, 32, sample_rng(5, 0), zoom=0.0)
    np.testing.assert_array_equal(plain[0], again[0])
    np.testing.assert_array_equal(np.diff(plain[0][..., 1], axis=1), 1.0)


def test_zoomed_windows_never_exceed_the_image():
    from segkit.training.augment_numpy import zoom_window

    assert zoom_window(32, 0.5, 40) == 40 and zoom_window(32, 2.0, 40) == 16
    image, mask = ramp_and_blocks(34)
    for s in range(12):
        out_image, _ = random_patch(image, mask, 32, sample_rng(2, s), zoom=0.9)
        assert out_image.shape == (32, 32, 2)
        assert out_image[..., 1].min() >= 0 and out_image[..., 1].max() <= 33


def _reference_augment(image, rng, strength, brightness, contrast, fade=0.0):
    """The augmentation written out step by step in float64, in the documented order: flips,
    turn, stain jitter in optical density (the hematoxylin faded), brightness, contrast,
    clip."""
    from segkit.training.augment_numpy import STAINS

    out = np.asarray(image, np.float64)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < 0.5:
        out = out[::-1]
    out = np.rot90(out, int(rng.integers(4)), axes=(0, 1))
    basis = np.asarray(STAINS) / np.linalg.norm(STAINS, axis=1, keepdims=True)
    scale = rng.uniform(1 - strength, 1 + strength, size=3)
    shift = rng.uniform(-strength / 4, strength / 4, size=3)
    if fade:
        scale[0] *= rng.uniform(1 - fade, 1)
    od = -np.log10((out + 1.0) / 256.0)
    amounts = od @ np.linalg.inv(basis) * scale + shift
    out = np.clip(256.0 * 10.0 ** -(amounts @ basis) - 1.0, 0, 255)
    out = out + rng.uniform(-brightness, brightness) * 255.0
    mean = out.mean(axis=(0, 1))
    out = (out - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    return np.clip(out, 0, 255)


def test_stain_jitter_flips_and_intensity_equal_the_formula_step_by_step():
    """The fast float32 path (colour on the unturned patch, one log and one exp) gives the
    formula's values within 1e-3 of 0..255, for every flip and turn the draws pick."""
    sample = make_synthetic_sample(48, 48, seed=5)
    image = sample.image.astype(np.float32)
    mask = (sample.labels > 0)[..., None].astype(np.uint8)
    for seed in range(12):
        out, out_mask = augment_pair(
            image, mask, sample_rng(seed), brightness=0.1, contrast=0.2, stain_jitter=0.4
        )
        expected = _reference_augment(image, sample_rng(seed), 0.4, 0.1, 0.2)
        np.testing.assert_allclose(out, expected, atol=1e-3)
        turned = _reference_augment(np.repeat(mask * 200.0, 3, -1), sample_rng(seed), 0, 0, 0)
        np.testing.assert_array_equal(out_mask[..., 0] > 0, turned[..., 0] > 100)  # geometry


def _stain_amounts(image):
    from segkit.training.augment_numpy import STAINS

    basis = np.asarray(STAINS) / np.linalg.norm(STAINS, axis=1, keepdims=True)
    od = -np.log10((np.asarray(image, np.float64).reshape(-1, 3) + 1.0) / 256.0)
    return od @ np.linalg.inv(basis)


def test_hematoxylin_fade_equals_the_formula_and_fades_the_hematoxylin_only():
    sample = make_synthetic_sample(48, 48, seed=6)
    image = sample.image.astype(np.float32)
    mask = (sample.labels > 0)[..., None].astype(np.uint8)
    for seed in range(6):
        out, _ = augment_pair(
            image, mask, sample_rng(seed), brightness=0.1, contrast=0.2, stain_jitter=0.3,
            hematoxylin_fade=0.6,
        )  # fmt: skip
        expected = _reference_augment(image, sample_rng(seed), 0.3, 0.1, 0.2, fade=0.6)
        np.testing.assert_allclose(out, expected, atol=1e-3)
    # Alone (no jitter, no flips, no intensity change) on pixels made of known stain amounts:
    # E and DAB stay, H shrinks by one factor in [1 - fade, 1].
    from segkit.training.augment_numpy import STAINS

    basis = np.asarray(STAINS) / np.linalg.norm(STAINS, axis=1, keepdims=True)
    amounts = np.random.default_rng(0).uniform((0.1, 0.0, 0.0), (0.8, 0.3, 0.3), (24 * 24, 3))
    stained = (256.0 * 10.0 ** -(amounts @ basis) - 1.0).reshape(24, 24, 3).astype(np.float32)
    factors = []
    for seed in range(8):
        out, _ = augment_pair(
            stained, mask[:24, :24], sample_rng(seed), flip=False, rotate90=False,
            brightness=0.0, contrast=0.0, hematoxylin_fade=0.5,
        )  # fmt: skip
        after = _stain_amounts(out)
        np.testing.assert_allclose(after[:, 1:], amounts[:, 1:], atol=1e-4)
        ratio = after[:, 0] / amounts[:, 0]
        assert np.ptp(ratio) < 1e-3
        factors.append(float(np.median(ratio)))
    assert all(0.5 - 0.01 <= f <= 1.0 + 0.01 for f in factors)
    assert min(factors) < 0.8  # the draws span the range


def test_hematoxylin_fade_zero_changes_nothing():
    sample = make_synthetic_sample(32, 32, seed=2)
    image = sample.image.astype(np.float32)
    mask = (sample.labels > 0)[..., None].astype(np.uint8)
    plain = augment_pair(image, mask, sample_rng(3), stain_jitter=0.3, noise=0.02)[0]
    same = augment_pair(image, mask, sample_rng(3), stain_jitter=0.3, noise=0.02,
                        hematoxylin_fade=0.0)[0]  # fmt: skip
    faded = augment_pair(image, mask, sample_rng(3), stain_jitter=0.3, noise=0.02,
                         hematoxylin_fade=0.5)[0]  # fmt: skip
    np.testing.assert_array_equal(plain, same)
    assert np.abs(faded - plain).max() > 1.0
