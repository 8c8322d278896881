from __future__ import annotations

import numpy as np
import pytest
from support import require_module

tf = require_module("tensorflow", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.training.augment import augment_pair, center_crop, random_patch  # noqa: E402


def _encoded_pair(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """An image whose first channel *is* its mask (times 50), plus a unique position code."""
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, size=(h, w, 1)).astype(np.uint8)
    position = np.arange(h * w, dtype=np.float32).reshape(h, w, 1) % 251
    image = np.concatenate([mask.astype(np.float32) * 50.0, position], axis=-1)
    return image, mask


@pytest.mark.parametrize("shape", [(16, 16), (12, 20)])
def test_augmentation_keeps_image_and_mask_aligned(shape):
    image, mask = _encoded_pair(*shape)
    seen = set()
    for s in range(12):
        seed = tf.constant([s, 7], dtype=tf.int64)
        out_image, out_mask = augment_pair(
            tf.constant(image), tf.constant(mask), seed, brightness=0.0, contrast=0.0
        )
        out_image, out_mask = out_image.numpy(), out_mask.numpy()
        assert out_image.shape == image.shape and out_mask.shape == mask.shape
        assert out_mask.dtype == np.uint8
        np.testing.assert_array_equal(out_image[..., 0], out_mask[..., 0].astype(np.float32) * 50)
        # a pure permutation of pixels: nothing interpolated
        assert sorted(out_image[..., 1].ravel().tolist()) == sorted(image[..., 1].ravel().tolist())
        seen.add(out_image[..., 1].tobytes())
    assert len(seen) >= 4  # the seeds really produce different geometries


def test_augmentation_is_seeded_and_intensity_touches_image_only():
    image, mask = _encoded_pair(16, 16)
    seed = tf.constant([3, 4], dtype=tf.int64)
    a = augment_pair(tf.constant(image), tf.constant(mask), seed, brightness=0.3, contrast=0.3)
    b = augment_pair(tf.constant(image), tf.constant(mask), seed, brightness=0.3, contrast=0.3)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    geometric = augment_pair(tf.constant(image), tf.constant(mask), seed, brightness=0, contrast=0)
    np.testing.assert_array_equal(a[1].numpy(), geometric[1].numpy())
    assert not np.allclose(a[0].numpy(), geometric[0].numpy())
    assert a[0].numpy().min() >= 0 and a[0].numpy().max() <= 255


def test_random_patch_cuts_the_same_window():
    image, mask = _encoded_pair(32, 32)
    out_image, out_mask = random_patch(
        tf.constant(image), tf.constant(mask), 16, tf.constant([1, 2], dtype=tf.int64)
    )
    assert out_image.shape == (16, 16, 2) and out_mask.shape == (16, 16, 1)
    np.testing.assert_array_equal(out_image.numpy()[..., 0], out_mask.numpy()[..., 0] * 50.0)
    # the position code locates the window inside the original
    top_left = out_image.numpy()[0, 0, 1]
    rows, cols = np.nonzero(image[..., 1] == top_left)
    assert any(
        np.array_equal(image[r : r + 16, c : c + 16, 1], out_image.numpy()[..., 1])
        for r, c in zip(rows, cols)
    )


def test_center_crop_to_multiple():
    image, mask = _encoded_pair(20, 27)
    out_image, out_mask = center_crop(tf.constant(image), tf.constant(mask), 8)
    assert out_image.shape == (16, 24, 2) and out_mask.shape == (16, 24, 1)
    np.testing.assert_array_equal(out_image.numpy(), image[2:18, 1:25])


def test_stain_jitter_changes_stain_amounts_not_geometry():
    import numpy as np

    from segkit.synthetic import make_synthetic_sample
    from segkit.training.augment import augment_pair, stain_jitter

    sample = make_synthetic_sample(64, 64, seed=3)
    image = tf.constant(sample.image, tf.float32)
    seed = tf.constant([1, 2], tf.int64)
    zero = stain_jitter(image, seed, 0.0).numpy()
    assert np.abs(zero - sample.image).max() < 1.0  # strength 0: the same image (round trip)
    jittered = stain_jitter(image, seed, 0.3).numpy()
    assert jittered.shape == sample.image.shape and 0 <= jittered.min() <= jittered.max() <= 255
    assert np.abs(jittered - sample.image).mean() > 2.0
    again = stain_jitter(image, seed, 0.3).numpy()
    np.testing.assert_array_equal(jittered, again)  # seeded
    # Background (white glass) stays near white: only stained pixels change much.
    glass = sample.labels == 0
    assert (
        np.abs(jittered[glass] - sample.image[glass]).mean()
        < np.abs(jittered[~glass] - sample.image[~glass]).mean()
    )
    mask = tf.constant((sample.labels > 0)[..., None].astype("uint8"))
    _, out_mask = augment_pair(image, mask, seed, flip=False, rotate90=False, stain_jitter=0.3)
    np.testing.assert_array_equal(out_mask.numpy(), mask.numpy())


def test_stain_jitter_equals_the_optical_density_formula():
    """The fused float32 form (one log, one product, one exp) gives the float64 formula's
    values, with the scale and shift drawn from the same seeds, within 1e-3 of 0..255."""
    from segkit.synthetic import make_synthetic_sample
    from segkit.training.augment import stain_jitter
    from segkit.training.augment_numpy import STAINS

    image = make_synthetic_sample(40, 40, seed=4).image.astype(np.float64)
    basis = np.asarray(STAINS) / np.linalg.norm(STAINS, axis=1, keepdims=True)
    for s in range(6):
        seed = tf.constant([s, 9], tf.int64)
        strength = 0.2 + 0.1 * s
        out = stain_jitter(tf.constant(image, tf.float32), seed, strength).numpy()
        seeds = tf.random.experimental.stateless_split(seed, num=2)
        scale = tf.random.stateless_uniform((1, 3), seeds[0], 1 - strength, 1 + strength)
        shift = tf.random.stateless_uniform((1, 3), seeds[1], -strength / 4, strength / 4)
        od = -np.log10((image.reshape(-1, 3) + 1.0) / 256.0)
        amounts = od @ np.linalg.inv(basis) * scale.numpy() + shift.numpy()
        expected = np.clip(256.0 * 10.0 ** -(amounts @ basis) - 1.0, 0, 255)
        np.testing.assert_allclose(out.reshape(-1, 3), expected, atol=1e-3)


def test_blur_and_hue_saturation_match_the_numpy_pipeline():
    from segkit.synthetic import make_synthetic_sample
    from segkit.training import augment_numpy
    from segkit.training.augment import gaussian_blur

    image = make_synthetic_sample(24, 24, seed=5).image.astype(np.float32)
    for sigma in (0.0, 0.7, 2.0):
        radius = augment_numpy.blur_radius(2.0)
        ours = gaussian_blur(tf.constant(image), tf.constant(sigma), radius).numpy()
        theirs = augment_numpy.gaussian_blur(image, sigma, radius)
        np.testing.assert_allclose(ours, theirs, atol=1e-2)
    rgb = tf.constant(image / 255.0)
    ours = tf.image.adjust_saturation(tf.image.adjust_hue(rgb, 0.1), 1.3).numpy() * 255.0
    theirs = augment_numpy.adjust_hue_saturation(image, 0.1, 1.3)
    np.testing.assert_allclose(ours, theirs, atol=0.5)


def test_blur_noise_hue_saturation_touch_the_image_only_and_are_seeded():
    from segkit.synthetic import make_synthetic_sample

    sample = make_synthetic_sample(32, 32, seed=2)
    image = tf.constant(sample.image, tf.float32)
    mask = tf.constant((sample.labels > 0)[..., None].astype("uint8"))
    seed = tf.constant([4, 5], tf.int64)
    options = {"hue": 0.05, "saturation": 0.2, "blur": 1.0, "noise": 0.05}
    a = augment_pair(image, mask, seed, flip=False, rotate90=False, **options)
    b = augment_pair(image, mask, seed, flip=False, rotate90=False, **options)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), mask.numpy())
    out = a[0].numpy()
    assert out.min() >= 0 and out.max() <= 255 and np.abs(out - sample.image).mean() > 1.0
    plain = augment_pair(image, mask, seed, stain_jitter=0.3)[0].numpy()
    extra = augment_pair(image, mask, seed, stain_jitter=0.3, hue=0.0, blur=0.0)[0].numpy()
    np.testing.assert_array_equal(plain, extra)  # options at 0 leave the rest as it was


def test_zoomed_patches_match_the_numpy_rule():
    from zoom_checks import check_zoomed_patch, ramp_and_blocks

    from segkit.training.augment_numpy import random_patch as numpy_patch
    from segkit.training.augment_numpy import resize_linear, resize_nearest, sample_rng

    image, mask = ramp_and_blocks(96)
    steps = []
    for s in range(24):
        seed = tf.constant([s, 11], dtype=tf.int64)
        out = random_patch(tf.constant(image), tf.constant(mask), 32, seed, zoom=0.25)
        steps.append(check_zoomed_patch(image, mask, out[0].numpy(), out[1].numpy(), 32, 0.25))
    assert min(steps) < 0.9 and max(steps) > 1.1
    numpy_steps = [
        check_zoomed_patch(image, mask, *numpy_patch(image, mask, 32, sample_rng(5, s), 0.25),
                           32, 0.25)
        for s in range(24)
    ]  # fmt: skip
    # the same distribution of magnifications (different random streams)
    assert abs(np.mean(np.log(steps)) - np.mean(np.log(numpy_steps))) < 0.08
    # and the same resizing arithmetic
    window = image[:40, :40]
    np.testing.assert_allclose(
        resize_linear(window, 32), tf.image.resize(window, (32, 32)).numpy(), atol=1e-3
    )
    np.testing.assert_array_equal(
        resize_nearest(mask[:27, :27], 32),
        tf.image.resize(mask[:27, :27], (32, 32), method="nearest").numpy(),
    )


def test_hematoxylin_fade_equals_the_formula_and_fades_the_hematoxylin_only():
    """``fade`` multiplies the hematoxylin's scale by a factor drawn in [1 - fade, 1]; in
    ``augment_pair`` alone (no jitter) E and DAB amounts stay and H shrinks by one factor."""
    from segkit.synthetic import make_synthetic_sample
    from segkit.training.augment import stain_jitter
    from segkit.training.augment_numpy import STAINS

    image = make_synthetic_sample(40, 40, seed=4).image.astype(np.float64)
    basis = np.asarray(STAINS) / np.linalg.norm(STAINS, axis=1, keepdims=True)
    for s in range(4):
        seed = tf.constant([s, 5], tf.int64)
        out = stain_jitter(tf.constant(image, tf.float32), seed, 0.3, fade=0.6).numpy()
        seeds = tf.random.experimental.stateless_split(seed, num=2)
        fade_seed = tf.random.experimental.stateless_split(seed, num=3)[2]
        scale = tf.random.stateless_uniform((1, 3), seeds[0], 0.7, 1.3).numpy()
        shift = tf.random.stateless_uniform((1, 3), seeds[1], -0.075, 0.075).numpy()
        scale[0, 0] *= float(tf.random.stateless_uniform((), fade_seed, 0.4, 1.0))
        od = -np.log10((image.reshape(-1, 3) + 1.0) / 256.0)
        expected = np.clip(256.0 * 10.0 ** -((od @ np.linalg.inv(basis) * scale + shift) @ basis)
                           - 1.0, 0, 255)  # fmt: skip
        np.testing.assert_allclose(out.reshape(-1, 3), expected, atol=1e-3)

    amounts = np.random.default_rng(0).uniform((0.1, 0.0, 0.0), (0.8, 0.3, 0.3), (16 * 16, 3))
    stained = (256.0 * 10.0 ** -(amounts @ basis) - 1.0).reshape(16, 16, 3).astype(np.float32)
    mask = np.zeros((16, 16, 1), np.uint8)
    factors = []
    for s in range(6):
        out, _ = augment_pair(
            tf.constant(stained), tf.constant(mask), tf.constant([s, 1]), flip=False,
            rotate90=False, brightness=0.0, contrast=0.0, hematoxylin_fade=0.5,
        )  # fmt: skip
        od = -np.log10((out.numpy().astype(np.float64).reshape(-1, 3) + 1.0) / 256.0)
        after = od @ np.linalg.inv(basis)
        np.testing.assert_allclose(after[:, 1:], amounts[:, 1:], atol=1e-3)
        ratio = after[:, 0] / amounts[:, 0]
        assert np.ptp(ratio) < 5e-3
        factors.append(float(np.median(ratio)))
    assert all(0.49 <= f <= 1.01 for f in factors) and min(factors) < 0.8
