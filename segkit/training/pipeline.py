"""The ``tf.data`` input pipeline: from a prepared data set's manifest to batches.

Training batches: decode (:func:`segkit.dataset.load_pair`, then the run's stain
normalisation, :func:`segkit.training.loading.training_stain`), cache, shuffle, random patches
when the images are larger than ``patch_size``, paired augmentation, batch, prefetch.
Evaluation batches: decode, cache, centre-crop to a size the U-Net accepts, batch, prefetch.
Images stay raw (float32 0..255): the model normalises them itself. Masks are uint8 class
indices ``(H, W, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from segkit.dataset.manifest import Manifest, PairRecord
from segkit.stain_normalisation import StainNormalisation
from segkit.training.augment import augment_pair, center_crop, random_patch
from segkit.training.config import TrainConfig
from segkit.training.loading import load_arrays, load_target, training_stain

__all__ = ["make_dataset", "load_arrays", "load_target", "count_batches"]

AUTOTUNE = tf.data.AUTOTUNE


def _decoded(
    manifest: Manifest,
    pairs: Sequence[PairRecord],
    input_context: Any,
    stain: StainNormalisation | None,
) -> Any:
    template = manifest.template
    shape = (template.height, template.width, template.channels)
    records = tuple(pairs)

    def load(index: Any) -> tuple[np.ndarray, np.ndarray]:
        image, mask = load_target(manifest, records[int(index)], stain=stain)
        return image, mask[..., None]

    def decode(index: Any) -> tuple[Any, Any]:
        image, mask = tf.numpy_function(load, [index], (tf.uint8, tf.uint8), stateful=False)
        image.set_shape(shape)
        mask.set_shape(shape[:2] + (1,))
        return image, mask

    ds = tf.data.Dataset.range(len(records))
    if input_context is not None and input_context.num_input_pipelines > 1:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return ds.map(decode, num_parallel_calls=AUTOTUNE, deterministic=True)


def _as_float(image: Any, mask: Any) -> tuple[Any, Any]:
    return tf.cast(image, tf.float32), mask


def make_dataset(
    manifest: Manifest,
    part: str,
    config: TrainConfig,
    *,
    training: bool,
    batch_size: int | None = None,
    input_context: Any = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches of ``(image, mask)`` from split part ``part`` of a prepared data set.

    Parameters
    ----------
    manifest : Manifest
    part : {'train', 'val', 'test'}
    config : TrainConfig
        Patch size, augmentation, seed, cache and batch size.
    training : bool
        Shuffle, cut random patches and augment (else: whole images, fixed order).
    batch_size : int, optional
        Overrides ``config.batch_size`` (a per-replica size under a distribution strategy).
    input_context : tf.distribute.InputContext, optional
        Shards the pairs between input pipelines (one per worker).
    drop_remainder : bool
        Drop the last incomplete batch (a static batch size, as custom training loops need).

    Returns
    -------
    tf.data.Dataset
        ``image`` float32 ``(B, H, W, C)`` raw 0..255 and ``mask`` uint8 ``(B, H, W, 1)``.
    """
    pairs = manifest.split(part)
    if not pairs:
        raise ValueError(f"{manifest.root}: split part '{part}' has no pairs")
    template = manifest.template
    batch = int(batch_size or config.batch_size)
    ds = _decoded(manifest, pairs, input_context, training_stain(manifest, config))
    count = len(pairs)
    if input_context is not None and input_context.num_input_pipelines > 1:
        n, i = input_context.num_input_pipelines, input_context.input_pipeline_id
        count = len(range(i, count, n))
    if config.cache:
        ds = ds.cache()
    if training:
        ds = _training_branch(ds, count, template.size, config)
    else:
        multiple = 2**config.depth
        ds = ds.map(_as_float).map(lambda i, m: center_crop(i, m, multiple))
    ds = ds.batch(batch, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)


def _training_branch(ds: Any, count: int, size: tuple[int, int], config: TrainConfig) -> Any:
    config.check_patch_fits(size)
    ppi = config.patches_per_image
    if ppi > 1:
        ds = ds.flat_map(lambda i, m: tf.data.Dataset.from_tensors((i, m)).repeat(ppi))
        ds = ds.apply(tf.data.experimental.assert_cardinality(count * ppi))
    ds = ds.shuffle(count * ppi, seed=config.seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True).batch(4)
    patch = config.patch_size
    needs_patch = patch is not None and (patch, patch) != tuple(size)
    multiple = 2**config.depth

    def transform(pair: Any, seed: Any) -> tuple[Any, Any]:
        image, mask = _as_float(*pair)
        if needs_patch and patch is not None:
            image, mask = random_patch(image, mask, patch, seed[:2], zoom=config.zoom)
        elif patch is None and (size[0] % multiple or size[1] % multiple):
            image, mask = center_crop(image, mask, multiple)
        if config.augment:
            image, mask = augment_pair(
                image,
                mask,
                seed[2:],
                flip=config.flip,
                rotate90=config.rotate90,
                brightness=config.brightness,
                stain_jitter=config.stain_jitter,
                hematoxylin_fade=config.hematoxylin_fade,
                contrast=config.contrast,
                hue=config.hue,
                saturation=config.saturation,
                blur=config.blur,
                noise=config.noise,
            )
        return image, mask

    ds = tf.data.Dataset.zip((ds, seeds))
    return ds.map(transform, num_parallel_calls=AUTOTUNE, deterministic=True)


def count_batches(count: int, batch_size: int, *, drop_remainder: bool = False) -> int:
    """Batches per pass over ``count`` samples."""
    return count // batch_size if drop_remainder else -(-count // batch_size)
