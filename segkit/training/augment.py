"""Paired augmentation: the image and its mask get the same random geometry.

All functions take ``image`` float32 ``(H, W, C)`` with raw values 0..255, ``mask`` uint8
``(H, W, 1)`` class indices and a stateless ``seed`` (int32/int64 tensor of shape ``(2,)``):
the same seed gives the same result on every machine. Geometric changes are applied to the
image and mask stacked together, so they can never drift apart; intensity changes touch the
image only, and masks are never interpolated.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

__all__ = ["augment_pair", "random_patch", "center_crop"]


def _split_seed(seed: Any, n: int) -> Any:
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=n)


def _stack(image: Any, mask: Any) -> Any:
    return tf.concat([image, tf.cast(mask, image.dtype)], axis=-1)


def _unstack(stack: Any, channels: int, mask_dtype: Any) -> tuple[Any, Any]:
    return stack[..., :channels], tf.cast(tf.round(stack[..., channels:]), mask_dtype)


def random_patch(image: Any, mask: Any, size: int, seed: Any) -> tuple[Any, Any]:
    """Cut the same random ``size x size`` window from ``image`` and ``mask``."""
    channels = image.shape[-1]
    stack = _stack(image, mask)
    out = tf.image.stateless_random_crop(stack, (size, size, channels + 1), seed=seed)
    return _unstack(out, channels, mask.dtype)


def center_crop(image: Any, mask: Any, multiple: int) -> tuple[Any, Any]:
    """Crop both to the largest centred window whose sides divide by ``multiple``."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    nh, nw = (h // multiple) * multiple, (w // multiple) * multiple
    top, left = (h - nh) // 2, (w - nw) // 2
    return image[top : top + nh, left : left + nw], mask[top : top + nh, left : left + nw]


def augment_pair(
    image: Any,
    mask: Any,
    seed: Any,
    *,
    flip: bool = True,
    rotate90: bool = True,
    brightness: float = 0.1,
    contrast: float = 0.1,
) -> tuple[Any, Any]:
    """Randomly flip and rotate image and mask together; jitter the image's intensity.

    Parameters
    ----------
    image : (H, W, C) float32 tensor
        Raw values 0..255.
    mask : (H, W, 1) integer tensor
    seed : (2,) integer tensor
    flip, rotate90 : bool
        Horizontal/vertical flips; rotations by a multiple of 90 degrees (by 180 only when the
        image is not square, so shapes never change).
    brightness, contrast : float
        Largest brightness shift (fraction of 255) and contrast factor change, image only.

    Returns
    -------
    image, mask : tensors of the input shapes and dtypes
    """
    channels = image.shape[-1]
    seeds = _split_seed(seed, 5)
    stack = _stack(image, mask)
    if flip:
        stack = tf.image.stateless_random_flip_left_right(stack, seed=seeds[0])
        stack = tf.image.stateless_random_flip_up_down(stack, seed=seeds[1])
    if rotate90:
        k = tf.random.stateless_uniform((), seeds[2], minval=0, maxval=4, dtype=tf.int32)
        h, w = image.shape[0], image.shape[1]
        if h is None or w is None or h != w:
            k = (k // 2) * 2  # 0 or 180 degrees keep a non-square shape
        stack = tf.image.rot90(stack, k)
    out_image, out_mask = _unstack(stack, channels, mask.dtype)
    if brightness > 0:
        delta = tf.random.stateless_uniform((), seeds[3], -brightness, brightness) * 255.0
        out_image = out_image + delta
    if contrast > 0:
        factor = tf.random.stateless_uniform((), seeds[4], 1.0 - contrast, 1.0 + contrast)
        mean = tf.reduce_mean(out_image, axis=(0, 1), keepdims=True)
        out_image = (out_image - mean) * factor + mean
    if brightness > 0 or contrast > 0:
        out_image = tf.clip_by_value(out_image, 0.0, 255.0)
    out_image.set_shape(image.shape)
    out_mask.set_shape(mask.shape)
    return out_image, out_mask
