"""Forward FLOPs of a model, counted layer by layer (hand-computed cases)."""

from __future__ import annotations

import pytest
from support import require_module

keras = require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.models import build_unet  # noqa: E402
from segkit.models.flops import TRAINING_FACTOR, count_flops  # noqa: E402


def _small() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)  # not counted
    x = keras.layers.Conv2DTranspose(2, 2, strides=2)(x)
    outputs = keras.layers.Dense(5)(x)
    return keras.Model(inputs, outputs)


def test_each_layer_by_hand():
    conv = 2 * (8 * 8) * 4 * (3 * 3 * 3)  # every output value: a 3x3x3 dot product
    transposed = 2 * (8 * 8) * 4 * (2 * 2) * 2  # every input value spreads over 2x2x2 outputs
    dense = 2 * (16 * 16) * 2 * 5  # at each of the 16x16 positions, 2 -> 5
    assert count_flops(_small()) == conv + transposed + dense == 23040


def test_a_unet_of_any_size_is_counted_at_the_size_given():
    model = build_unet((None, None, 3), 2, depth=2, base_filters=4)
    small = count_flops(model, (32, 32, 3))
    assert small == count_flops(build_unet((32, 32, 3), 2, depth=2, base_filters=4))
    assert count_flops(model, (64, 64, 3)) == 4 * small  # a U-Net's cost grows with H * W
    # the first convolution alone: 32x32 outputs of 4 filters over 3x3x3 inputs
    assert small > 2 * 32 * 32 * 4 * 27
    assert TRAINING_FACTOR == 3


def test_an_unknown_size_or_an_uncounted_layer_is_refused():
    with pytest.raises(ValueError, match="give input_shape"):
        count_flops(build_unet((None, None, 3), 2, depth=2, base_filters=4))
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.SeparableConv2D(4, 3)(inputs))
    with pytest.raises(ValueError, match="not counted"):
        count_flops(model)
