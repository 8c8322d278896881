"""Floating-point operations of a model's forward pass, for model FLOP utilisation (MFU).

Only the layers that do the arithmetic an accelerator's matrix units are rated for are
counted: convolutions, transposed convolutions and dense layers, a multiply-add being two
operations (the convention of MFU figures). Normalisation, activations, pooling and
concatenation are left out; in a U-Net they are well under 1 % of the total. A training step
costs about three forward passes (the forward pass, and two of the same size for the
gradients of the activations and of the weights): :data:`TRAINING_FACTOR`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["TRAINING_FACTOR", "count_flops"]

#: Operations of a training step per operation of the forward pass.
TRAINING_FACTOR = 3


def _spatial(shape: Sequence[int | None], what: str) -> int:
    dims = list(shape[1:-1])
    if any(d is None for d in dims):
        raise ValueError(f"{what} has an unknown size {tuple(shape)}: give input_shape")
    return math.prod(int(d) for d in dims if d is not None)


def _layer_flops(layer: Any) -> int:
    import keras

    layers = keras.layers
    transposed = (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)
    convs = (layers.Conv1D, layers.Conv2D, layers.Conv3D)
    if isinstance(layer, layers.DepthwiseConv2D | layers.SeparableConv2D):
        kind = type(layer).__name__
        raise ValueError(f"count_flops: layer {layer.name!r} ({kind}) is not counted")
    if isinstance(layer, transposed):
        inp = layer.input.shape
        kernel = math.prod(layer.kernel_size)
        return 2 * _spatial(inp, layer.name) * int(inp[-1]) * kernel * int(layer.filters)
    if isinstance(layer, convs):
        out, inp = layer.output.shape, layer.input.shape
        kernel = math.prod(layer.kernel_size)
        per_output = kernel * int(inp[-1]) // int(getattr(layer, "groups", 1) or 1)
        return 2 * _spatial(out, layer.name) * int(out[-1]) * per_output
    if isinstance(layer, layers.Dense):
        inp = layer.input.shape
        positions = math.prod(int(d) for d in inp[1:-1] if d is not None) if len(inp) > 2 else 1
        return 2 * positions * int(inp[-1]) * int(layer.units)
    if isinstance(layer, keras.Model):
        return sum(_layer_flops(inner) for inner in layer.layers)
    return 0


def count_flops(model: Any, input_shape: Sequence[int] | None = None) -> int:
    """Forward-pass floating-point operations for one image.

    Parameters
    ----------
    model : keras.Model
        A functional model (every segkit model is one).
    input_shape : (H, W, C), optional
        The image size to count at; required when the model accepts any size (segkit's
        U-Nets do: their cost grows with ``H * W``).

    Returns
    -------
    int
        Operations of one forward pass of one image (a multiply-add counts two). Multiply by
        :data:`TRAINING_FACTOR` for a training step.

    Raises
    ------
    ValueError
        The size is unknown, or the model has a layer whose cost is not counted (depthwise or
        separable convolutions).
    """
    import keras

    if input_shape is not None:
        shape = tuple(int(d) for d in input_shape)
        inputs = keras.Input(shape=shape, name=model.inputs[0].name.split(":")[0])
        model = keras.models.clone_model(model, input_tensors=inputs)
    return int(sum(_layer_flops(layer) for layer in model.layers))
