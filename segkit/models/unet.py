"""The U-Net of Ronneberger et al. (2015) as a Keras 3 functional model.

``depth`` counts the down-sampling steps (max-poolings): the original network has
``depth=4`` (five resolution levels) and ``base_filters=64``, about 31 M parameters. Convolutions
use ``same`` padding, so the output has the input's size. The first layer rescales raw pixel
values 0..255 to 0..1: the model takes raw images.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

__all__ = [
    "UPSAMPLING_MODES",
    "build_unet",
    "check_input_size",
    "downsampling_factor",
    "valid_sizes",
]

UPSAMPLING_MODES = ("transpose", "bilinear")


def downsampling_factor(model: Any) -> int:
    """``2 ** (number of 2x down-sampling layers)`` of ``model`` (nested models included): its
    input's height and width must divide by it. A model that states it (an
    :class:`~segkit.models.onnx_model.OnnxModel`'s ``size_multiple``) is taken at its word."""
    stated = getattr(model, "size_multiple", None)
    if isinstance(stated, int):
        return stated
    pooling = layers.MaxPooling2D | layers.AveragePooling2D

    def count(items: Any) -> int:
        return sum(
            1 if isinstance(layer, pooling) else count(getattr(layer, "layers", ()))
            for layer in items
        )

    return int(2 ** count(model.layers))


def valid_sizes(size: int, depth: int) -> tuple[int, int]:
    """The nearest sizes at or below and above ``size`` that divide by ``2**depth``."""
    step = 2**depth
    below = (size // step) * step
    above = below if below == size else below + step
    return (max(below, step), above)


def check_input_size(size: int | None, depth: int, *, axis: str = "height") -> None:
    """Raise ``ValueError`` when ``size`` does not divide by ``2**depth``.

    Parameters
    ----------
    size : int or None
        Image height or width in pixels; ``None`` (any size) passes.
    depth : int
        Number of down-sampling steps of the U-Net.
    axis : str
        Named in the message ("height" or "width").
    """
    if size is None:
        return
    step = 2**depth
    if size < step or size % step:
        below, above = valid_sizes(size, depth)
        nearest = f"{below} or {above}" if below != above else f"{above}"
        raise ValueError(
            f"input {axis} {size} does not divide by 2**depth = {step} (depth={depth}); "
            f"use a {axis} of {nearest}, or a smaller depth"
        )


def _conv_block(x: Any, filters: int, *, batch_norm: bool, name: str) -> Any:
    for i in (1, 2):
        x = layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer="he_normal",
            name=f"{name}_conv{i}",
        )(x)
        if batch_norm:
            # momentum 0.9 (Keras default 0.99): the running statistics used at inference
            # catch up within tens of steps, which short runs on small data sets need.
            x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def _upsample(x: Any, filters: int, *, mode: str, name: str) -> Any:
    if mode == "transpose":
        return layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_up")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
    return layers.Conv2D(filters, 1, padding="same", name=f"{name}_up_proj")(x)


def _validate(
    input_shape: tuple[int | None, int | None, int],
    num_classes: int,
    depth: int,
    base_filters: int,
    dropout: float,
    upsampling: str,
) -> tuple[int | None, int | None, int]:
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    height, width, channels = shape
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"input_shape channels must be a positive integer, got {channels!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes counts the background and must be >= 2, got {num_classes!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 8:
        raise ValueError(f"depth (number of down-sampling steps) must be 1..8, got {depth!r}")
    if isinstance(base_filters, bool) or not isinstance(base_filters, int) or base_filters < 1:
        raise ValueError(f"base_filters must be a positive integer, got {base_filters!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if upsampling not in UPSAMPLING_MODES:
        raise ValueError(f"upsampling must be one of {UPSAMPLING_MODES}, got {upsampling!r}")
    check_input_size(height, depth, axis="height")
    check_input_size(width, depth, axis="width")
    return (height, width, channels)


def build_unet(
    input_shape: tuple[int | None, int | None, int],
    num_classes: int,
    *,
    depth: int = 4,
    base_filters: int = 32,
    batch_norm: bool = True,
    dropout: float = 0.0,
    upsampling: str = "transpose",
    name: str = "unet",
) -> keras.Model:
    """Build a U-Net.

    Parameters
    ----------
    input_shape : (height, width, channels)
        Height and width may be ``None`` (any size that divides by ``2**depth``).
    num_classes : int
        Classes including the background. 2: one sigmoid output channel (foreground
        probability); K > 2: K softmax channels.
    depth : int
        Down-sampling steps; the original U-Net has 4.
    base_filters : int
        Filters of the first level; each level down doubles them (the original: 64).
    batch_norm : bool
        Batch normalisation after every convolution.
    dropout : float
        Dropout rate at the end of the contracting path (the deepest encoder level and the
        bottleneck), as in the original paper. 0 disables it.
    upsampling : {'transpose', 'bilinear'}
        2x2 transposed convolution, or bilinear up-sampling followed by a 1x1 convolution.
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Takes raw pixel values 0..255 as float32 ``(B, H, W, C)``; returns float32
        probabilities ``(B, H, W, 1)`` (binary) or ``(B, H, W, K)``.

    Raises
    ------
    ValueError
        A bad argument, or a height/width that does not divide by ``2**depth`` (the message
        names the nearest valid sizes).
    """
    shape = _validate(input_shape, num_classes, depth, base_filters, dropout, upsampling)
    inputs = keras.Input(shape=shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    skips = []
    for level in range(depth):
        x = _conv_block(x, base_filters * 2**level, batch_norm=batch_norm, name=f"enc{level}")
        if dropout and level == depth - 1:
            x = layers.Dropout(dropout, name=f"enc{level}_dropout")(x)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = _conv_block(x, base_filters * 2**depth, batch_norm=batch_norm, name="bottleneck")
    if dropout:
        x = layers.Dropout(dropout, name="bottleneck_dropout")(x)
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = _upsample(x, filters, mode=upsampling, name=f"dec{level}")
        x = layers.Concatenate(name=f"dec{level}_concat")([skips[level], x])
        x = _conv_block(x, filters, batch_norm=batch_norm, name=f"dec{level}")
    channels = 1 if num_classes == 2 else num_classes
    x = layers.Conv2D(channels, 1, name="head")(x)
    activation = "sigmoid" if num_classes == 2 else "softmax"
    # float32 output even under a mixed-precision policy.
    outputs = layers.Activation(activation, dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
