from __future__ import annotations

import numpy as np
import pytest
from support import require_module

require_module("tensorflow", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.dataset.manifest import load_manifest  # noqa: E402
from segkit.training.config import TrainConfig  # noqa: E402
from segkit.training.pipeline import load_arrays, make_dataset  # noqa: E402


def test_training_batches_are_patches_of_raw_pixels(prepared_small):
    manifest = load_manifest(prepared_small)
    config = TrainConfig(batch_size=3, patch_size=16, depth=2, patches_per_image=2, seed=5)
    ds = make_dataset(manifest, "train", config, training=True)
    batches = list(ds)
    assert sum(int(b[0].shape[0]) for b in batches) == 2 * len(manifest.split("train"))
    image, mask = batches[0]
    assert image.shape[1:] == (16, 16, 3) and image.dtype.name == "float32"
    assert mask.shape[1:] == (16, 16, 1) and mask.dtype.name == "uint8"
    assert float(image.numpy().max()) > 1.5  # raw 0..255, not normalised
    assert set(np.unique(mask.numpy())) <= {0, 1}
    # seeded: the same config gives the same first epoch
    again = next(iter(make_dataset(manifest, "train", config, training=True)))
    np.testing.assert_array_equal(again[0].numpy(), image.numpy())


def test_epochs_differ_and_eval_is_whole_images(prepared_small):
    manifest = load_manifest(prepared_small)
    config = TrainConfig(batch_size=8, patch_size=16, depth=2, seed=1)
    ds = make_dataset(manifest, "train", config, training=True)
    first, second = next(iter(ds))[0].numpy(), next(iter(ds))[0].numpy()
    assert not np.array_equal(first, second)
    val = list(make_dataset(manifest, "val", config, training=False))
    images, masks = load_arrays(manifest, manifest.split("val"))
    np.testing.assert_array_equal(val[0][0].numpy(), images.astype(np.float32))
    np.testing.assert_array_equal(val[0][1].numpy()[..., 0], masks)


def test_patch_larger_than_images_is_named(prepared_small):
    manifest = load_manifest(prepared_small)
    with pytest.raises(ValueError, match="patch_size"):
        make_dataset(manifest, "train", TrainConfig(patch_size=64, depth=2), training=True)


def test_colour_blur_and_noise_options_reach_the_batches(prepared_small):
    manifest = load_manifest(prepared_small)
    plain = TrainConfig(batch_size=3, patch_size=16, depth=2, seed=5, brightness=0.0, contrast=0.0)
    noisy = plain.replace(hue=0.05, saturation=0.2, blur=1.0, noise=0.05)
    a_images, a_masks = next(iter(make_dataset(manifest, "train", plain, training=True)))
    b_images, b_masks = next(iter(make_dataset(manifest, "train", noisy, training=True)))
    np.testing.assert_array_equal(a_masks.numpy(), b_masks.numpy())
    assert np.abs(a_images.numpy() - b_images.numpy()).mean() > 1.0
    faded = plain.replace(hematoxylin_fade=0.8)
    c_images, c_masks = next(iter(make_dataset(manifest, "train", faded, training=True)))
    np.testing.assert_array_equal(a_masks.numpy(), c_masks.numpy())
    assert c_images.numpy().mean() > a_images.numpy().mean()  # less hematoxylin: brighter


def test_zoom_reaches_the_batches_and_keeps_mask_classes(prepared_small):
    manifest = load_manifest(prepared_small)
    plain = TrainConfig(batch_size=3, patch_size=16, depth=2, seed=5)
    images, masks = next(iter(make_dataset(manifest, "train", plain, training=True)))
    z_images, z_masks = next(
        iter(make_dataset(manifest, "train", plain.replace(zoom=0.5), training=True))
    )
    assert z_images.shape == images.shape and z_masks.dtype == masks.dtype
    assert set(np.unique(z_masks.numpy())) <= set(range(manifest.template.num_classes))
    assert not np.array_equal(z_images.numpy(), images.numpy())
