"""The backend-neutral input pipeline (``keras.utils.PyDataset``), read batch by batch."""

from __future__ import annotations

import numpy as np
import pytest
from support import require_module

require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.dataset import load_manifest  # noqa: E402
from segkit.training import TrainConfig  # noqa: E402
from segkit.training.pydataset import FollowEpochs, PairDataset  # noqa: E402

CONFIG = TrainConfig(batch_size=3, depth=2, patch_size=16, patches_per_image=2, seed=5)


@pytest.fixture(scope="module")
def manifest(prepared_small):
    return load_manifest(prepared_small)


def _epoch(data: PairDataset, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    data.set_epoch(epoch)
    batches = [data[i] for i in range(len(data))]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def test_training_batches_have_the_patch_shape_and_length(manifest):
    data = PairDataset(manifest, "train", CONFIG, training=True, workers=1)
    n = len(manifest.split("train")) * 2  # two patches per image
    assert len(data) == -(-n // 3)
    images, masks = data[0]
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.float32
    assert masks.shape == (3, 16, 16, 1) and masks.dtype == np.uint8
    assert images.min() >= 0 and images.max() <= 255 and set(np.unique(masks)) <= {0, 1}
    last_images, _ = data[len(data) - 1]
    assert len(last_images) == n - 3 * (len(data) - 1)
    dropped = PairDataset(manifest, "train", CONFIG, training=True, drop_remainder=True)
    assert len(dropped) == n // 3 and len(dropped[len(dropped) - 1][0]) == 3
    with pytest.raises(IndexError):
        data[len(data)]


def test_each_epoch_is_a_new_shuffle_and_a_seed_repeats_it(manifest):
    data = PairDataset(manifest, "train", CONFIG, training=True)
    assert sorted(data.order(0)) == sorted(data.order(1)) == list(range(data.samples))
    assert not np.array_equal(data.order(0), data.order(1))
    first, first_masks = _epoch(data, 0)
    second, _ = _epoch(data, 1)
    assert not np.array_equal(first, second)
    again = PairDataset(manifest, "train", CONFIG, training=True, workers=2)
    repeat, repeat_masks = _epoch(again, 0)
    np.testing.assert_array_equal(first, repeat)
    np.testing.assert_array_equal(first_masks, repeat_masks)
    other = PairDataset(manifest, "train", CONFIG.replace(seed=6), training=True)
    assert not np.array_equal(first, _epoch(other, 0)[0])


def test_steps_per_epoch_walks_a_stream_of_passes(manifest):
    config = CONFIG.replace(patches_per_image=1, steps_per_epoch=2, augment=False)
    data = PairDataset(manifest, "train", config, training=True)
    assert len(data) == 2
    n = data.samples
    stream = np.concatenate([data.order(p) for p in range(4)])
    for epoch in range(3):
        data.set_epoch(epoch)
        for i in range(2):
            got = [s for _, s in data._positions(i)]
            start = (epoch * 2 + i) * 3
            assert got == list(stream[start : start + 3]), (epoch, i, n)


def test_evaluation_batches_are_whole_images_in_order(manifest):
    config = CONFIG.replace(depth=3)
    data = PairDataset(manifest, "val", config, training=False)
    pairs = manifest.split("val")
    assert len(data) == -(-len(pairs) // 3)
    images, masks = _epoch(data, 0)
    assert images.shape == (len(pairs), 32, 32, 3)  # 32 is a multiple of 2 ** 3
    again, _ = _epoch(data, 4)
    np.testing.assert_array_equal(images, again)  # no shuffle, no augmentation
    from segkit.training.loading import load_target

    image, mask = load_target(manifest, pairs[0])
    np.testing.assert_array_equal(images[0], image.astype(np.float32))
    np.testing.assert_array_equal(masks[0, ..., 0], mask)


def test_cache_keeps_decoded_pairs_only_when_asked(manifest):
    cached = PairDataset(manifest, "val", CONFIG, training=False)
    _epoch(cached, 0)
    assert len(cached._cache) == len(manifest.split("val"))
    uncached = PairDataset(manifest, "val", CONFIG.replace(cache=False), training=False)
    _epoch(uncached, 0)
    assert uncached._cache == {}


def test_a_part_without_one_complete_batch_is_refused(manifest):
    with pytest.raises(ValueError, match="fewer than one complete batch"):
        PairDataset(manifest, "val", CONFIG, training=False, batch_size=8, drop_remainder=True)


def test_a_patch_larger_than_the_images_is_refused(manifest):
    with pytest.raises(ValueError, match="patch_size.*larger than the images"):
        PairDataset(manifest, "train", CONFIG.replace(patch_size=64), training=True)


def test_follow_epochs_sets_the_epoch_fit_begins():
    class Fake:
        epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

    fake = Fake()
    FollowEpochs(fake).on_epoch_begin(7)  # type: ignore[arg-type]
    assert fake.epoch == 7


def test_colour_blur_and_noise_options_reach_the_batches(manifest):
    plain = CONFIG.replace(brightness=0.0, contrast=0.0)
    noisy = plain.replace(hue=0.05, saturation=0.2, blur=1.0, noise=0.05)
    a_images, a_masks = PairDataset(manifest, "train", plain, training=True)[0]
    b_images, b_masks = PairDataset(manifest, "train", noisy, training=True)[0]
    np.testing.assert_array_equal(a_masks, b_masks)  # the same patches, flips and turns
    assert np.abs(a_images - b_images).mean() > 1.0


def test_zoom_reaches_the_batches_and_keeps_mask_classes(manifest):
    images, masks = PairDataset(manifest, "train", CONFIG, training=True)[0]
    z_images, z_masks = PairDataset(manifest, "train", CONFIG.replace(zoom=0.5), training=True)[0]
    assert z_images.shape == images.shape and z_masks.dtype == masks.dtype
    assert set(np.unique(z_masks)) <= set(range(manifest.template.num_classes))
    assert not np.array_equal(z_images, images)


def test_hematoxylin_fade_reaches_the_patches(manifest):
    """The config's fade is applied (images differ, paler in hematoxylin), masks unchanged."""
    plain = _epoch(PairDataset(manifest, "train", CONFIG, training=True), 0)
    faded_config = CONFIG.replace(hematoxylin_fade=0.8)
    faded = _epoch(PairDataset(manifest, "train", faded_config, training=True), 0)
    np.testing.assert_array_equal(plain[1], faded[1])
    assert not np.array_equal(plain[0], faded[0])
    assert faded[0].mean() > plain[0].mean()  # less hematoxylin: brighter
