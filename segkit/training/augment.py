"""Paired augmentation: the image and its mask get the same random geometry.

All functions take ``image`` float32 ``(H, W, C)`` with raw values 0..255, ``mask`` uint8
``(H, W, 1)`` class indices and a stateless ``seed`` (int32/int64 tensor of shape ``(2,)``):
the same seed gives the same result on every machine. Geometric changes are applied to the
image and mask stacked together, so they can never drift apart; intensity changes touch the
image only, and masks are never interpolated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from segkit.training.augment_numpy import STAINS, blur_radius

__all__ = ["augment_pair", "random_patch", "center_crop", "stain_jitter", "gaussian_blur"]


def _split_seed(seed: Any, n: int) -> Any:
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=n)


def _stack(image: Any, mask: Any) -> Any:
    return tf.concat([image, tf.cast(mask, image.dtype)], axis=-1)


def _unstack(stack: Any, channels: int, mask_dtype: Any) -> tuple[Any, Any]:
    return stack[..., :channels], tf.cast(tf.round(stack[..., channels:]), mask_dtype)


def random_patch(image: Any, mask: Any, size: int, seed: Any, zoom: float = 0.0) -> tuple[Any, Any]:
    """Cut the same random ``size x size`` window from ``image`` and ``mask``.

    With ``zoom`` > 0 the tissue is magnified by a factor drawn log-uniform in
    ``[1 / (1 + zoom), 1 + zoom]``, as :func:`segkit.training.augment_numpy.random_patch`
    defines it: the window (:func:`~segkit.training.augment_numpy.zoom_window`) is resized to
    ``size``, the image bilinear, the mask nearest-neighbour.
    """
    channels = image.shape[-1]
    stack = _stack(image, mask)
    if zoom <= 0:
        out = tf.image.stateless_random_crop(stack, (size, size, channels + 1), seed=seed)
        return _unstack(out, channels, mask.dtype)
    seeds = _split_seed(seed, 2)
    bound = float(np.log1p(zoom))
    factor = tf.exp(tf.random.stateless_uniform((), seeds[0], -bound, bound, dtype=tf.float64))
    limit = tf.minimum(tf.shape(image)[0], tf.shape(image)[1])
    side = tf.cast(tf.round(tf.cast(size, tf.float64) / factor), tf.int32)
    side = tf.clip_by_value(side, 1, limit)
    out = tf.image.stateless_random_crop(stack, tf.stack([side, side, channels + 1]), seeds[1])
    window, labels = _unstack(out, channels, mask.dtype)
    window = tf.image.resize(window, (size, size), method="bilinear")
    labels = tf.image.resize(labels, (size, size), method="nearest")
    window.set_shape((size, size, channels))
    labels.set_shape((size, size, mask.shape[-1]))
    return window, tf.cast(labels, mask.dtype)


def center_crop(image: Any, mask: Any, multiple: int) -> tuple[Any, Any]:
    """Crop both to the largest centred window whose sides divide by ``multiple``."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    nh, nw = (h // multiple) * multiple, (w // multiple) * multiple
    top, left = (h - nh) // 2, (w - nw) // 2
    return image[top : top + nh, left : left + nw], mask[top : top + nh, left : left + nw]


def stain_jitter(image: Any, seed: Any, strength: float, *, fade: float = 0.0) -> Any:
    """Scale and shift the amount of each stain (hematoxylin, eosin, DAB) at random.

    The image goes to optical density ``-log10((I + 1) / 256)``, is split into the three stains
    (colour deconvolution), each stain's concentration ``c`` becomes ``a * c + b`` with ``a``
    in ``[1 - strength, 1 + strength]`` and ``b`` in ``[-strength / 4, strength / 4]`` OD, and
    the result is composed back to RGB. ``strength`` 0.05 is a light jitter, 0.3 a strong one
    (Tellez et al. 2018's HED augmentation). With ``fade`` > 0 the hematoxylin's ``a`` is
    also multiplied by a factor drawn in ``[1 - fade, 1]``: pale, under-stained nuclei. RGB
    images only.
    """
    fade_seed = _split_seed(seed, 3)[2] if fade > 0 else None
    return _stain_jitter(image, seed, strength, fade, fade_seed)


def _stain_jitter(
    image: Any, seed: Any, strength: float, fade: float = 0.0, fade_seed: Any = None
) -> Any:
    basis = tf.constant(STAINS, dtype=tf.float32)
    basis = basis / tf.norm(basis, axis=1, keepdims=True)
    inverse = tf.linalg.inv(basis)
    seeds = _split_seed(seed, 2)
    scale = tf.random.stateless_uniform((1, 3), seeds[0], 1.0 - strength, 1.0 + strength)
    if fade > 0:  # the hematoxylin only: pale nuclei
        factor = tf.random.stateless_uniform((), fade_seed, 1.0 - fade, 1.0)
        scale = scale * tf.stack([factor, 1.0, 1.0])[None]
    shift = tf.random.stateless_uniform((1, 3), seeds[1], -strength / 4, strength / 4)
    # od' = (od @ inverse * scale + shift) @ basis = od @ mixing + shift @ basis, and in natural
    # logs the factors of ln 10 cancel: one log, one product and one exp a pixel (as NumPy's).
    mixing = tf.matmul(inverse * scale, basis)
    offset = -tf.matmul(shift, basis) * float(np.log(10.0))
    flat = tf.reshape(image, (-1, 3))
    log = tf.math.log(flat + 1.0) - float(np.log(256.0))
    out = 256.0 * tf.exp(tf.matmul(log, mixing) + offset) - 1.0
    return tf.reshape(tf.clip_by_value(out, 0.0, 255.0), tf.shape(image))


def gaussian_blur(image: Any, sigma: Any, radius: int) -> Any:
    """Blur each channel of ``(H, W, C)`` with a separable Gaussian, the border mirrored.

    As :func:`segkit.training.augment_numpy.gaussian_blur`; ``sigma`` may be a tensor.
    """
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-0.5 * tf.square(x / tf.maximum(tf.cast(sigma, tf.float32), 0.01)))
    weights = weights / tf.reduce_sum(weights)
    channels = image.shape[-1]
    rows = tf.tile(tf.reshape(weights, (-1, 1, 1, 1)), (1, 1, channels, 1))
    cols = tf.tile(tf.reshape(weights, (1, -1, 1, 1)), (1, 1, channels, 1))
    padded = tf.pad(image, ((radius, radius), (radius, radius), (0, 0)), mode="REFLECT")
    out = tf.nn.depthwise_conv2d(padded[None], rows, (1, 1, 1, 1), "VALID")
    out = tf.nn.depthwise_conv2d(out, cols, (1, 1, 1, 1), "VALID")
    return out[0]


def augment_pair(
    image: Any,
    mask: Any,
    seed: Any,
    *,
    flip: bool = True,
    rotate90: bool = True,
    brightness: float = 0.1,
    contrast: float = 0.1,
    stain_jitter: float = 0.0,
    hematoxylin_fade: float = 0.0,
    hue: float = 0.0,
    saturation: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
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
    stain_jitter : float
        Strength of the stain augmentation (:func:`stain_jitter`; RGB images, 0: off).
    hematoxylin_fade : float
        Largest fade of the hematoxylin (:func:`stain_jitter`'s ``fade``; RGB images, 0: off).
    hue, saturation, blur, noise : float
        Colour, blur and noise augmentation, as
        :func:`segkit.training.augment_numpy.augment_pair` defines them (0: off).

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
    extra = _split_seed(seeds[3], 6)  # the options added later draw from their own seeds
    if (stain_jitter > 0 or hematoxylin_fade > 0) and channels == 3:
        stain_seed = _split_seed(seeds[4], 2)[1]
        out_image = _stain_jitter(out_image, stain_seed, stain_jitter, hematoxylin_fade, extra[5])
    if hue > 0 and channels == 3:
        turn = tf.random.stateless_uniform((), extra[0], -hue, hue)
        out_image = tf.image.adjust_hue(out_image / 255.0, turn) * 255.0
    if saturation > 0 and channels == 3:
        factor = tf.random.stateless_uniform((), extra[1], 1.0 - saturation, 1.0 + saturation)
        rgb = tf.clip_by_value(out_image / 255.0, 0.0, 1.0)
        out_image = tf.image.adjust_saturation(rgb, factor) * 255.0
    if brightness > 0:
        delta = tf.random.stateless_uniform((), seeds[3], -brightness, brightness) * 255.0
        out_image = out_image + delta
    if contrast > 0:
        factor = tf.random.stateless_uniform((), seeds[4], 1.0 - contrast, 1.0 + contrast)
        mean = tf.reduce_mean(out_image, axis=(0, 1), keepdims=True)
        out_image = (out_image - mean) * factor + mean
    if brightness > 0 or contrast > 0:
        out_image = tf.clip_by_value(out_image, 0.0, 255.0)
    if blur > 0:
        sigma = tf.random.stateless_uniform((), extra[2], 0.0, blur)
        out_image = gaussian_blur(out_image, sigma, blur_radius(blur))
    if noise > 0:
        std = tf.random.stateless_uniform((), extra[3], 0.0, noise) * 255.0
        jitter = tf.random.stateless_normal(tf.shape(out_image), extra[4]) * std
        out_image = tf.clip_by_value(out_image + jitter, 0.0, 255.0)
    out_image.set_shape(image.shape)
    out_mask.set_shape(mask.shape)
    return out_image, out_mask
