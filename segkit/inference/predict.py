"""Predict a mask for a raw image of any size with a trained model.

The raw image is brought to what the model saw in training (colour model, the template's
scale), predicted by Gaussian-blended sliding windows, and the probabilities are resized
back, so the mask has the raw image's size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from segkit.inference.tiling import sliding_window

if TYPE_CHECKING:
    from segkit.models.saving import ModelInfo

__all__ = [
    "DEFAULT_TILE",
    "predict",
    "predict_proba",
    "prepare_image",
    "window_size",
]

DEFAULT_TILE = 256


def _resolve(model: Any, info: ModelInfo | None) -> tuple[Any, ModelInfo]:
    from segkit.models.resolve import resolve_model

    return resolve_model(model if info is None else (model, info))


def prepare_image(image: np.ndarray, info: ModelInfo) -> np.ndarray:
    """Convert a raw image to the model's input: uint8 ``(h, w, C)`` in the colour model of
    ``info``, resized by ``info.scale`` (area filter when shrinking, bilinear when enlarging),
    its stain normalised by ``info.stain_normalisation`` (measured on the whole resized image,
    as training measured each training image; :func:`segkit.stain_normalisation.normalise`).
    """
    from segkit.imaging import binarize, resize_image, to_color_model, to_uint8

    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected an (M, N) or (M, N, C) image, got shape {arr.shape}")
    arr = to_color_model(to_uint8(arr), info.color_model)
    sy, sx = info.scale
    if (sy, sx) != (1.0, 1.0):
        size = (max(1, round(arr.shape[0] * sy)), max(1, round(arr.shape[1] * sx)))
        arr = resize_image(arr, size)
    if not info.stain_normalisation.is_none:
        from segkit.stain_normalisation import normalise

        arr = normalise(arr, info.stain_normalisation)
    if info.color_model == "binary":
        arr = binarize(arr)
    return arr if arr.ndim == 3 else arr[..., None]


def window_size(
    model: Any, info: ModelInfo, tile_size: int | tuple[int, int] | None, shape: tuple[int, int]
) -> tuple[int, int]:
    """The sliding window a prediction of an image of ``shape`` (at the model's scale) uses.

    Parameters
    ----------
    model : keras.Model
    info : ModelInfo
    tile_size : int, (int, int) or None
        Asked for; None: the model's fixed input size, else its training size, else
        :data:`DEFAULT_TILE`. A model that takes any size never gets a window larger than the
        image rounded up to its down-sampling factor.
    shape : (int, int)
        ``(height, width)`` of the image to predict.

    Returns
    -------
    (int, int)
        ``(height, width)`` of the window.

    Raises
    ------
    ValueError
        A size the network cannot take (not a multiple of its down-sampling factor, or not
        its fixed input size).
    """
    from segkit.models.unet import check_input_size, downsampling_factor

    factor = downsampling_factor(model)
    fixed = tuple(model.input_shape[1:3])
    if tile_size is None:
        if all(fixed):
            tile = fixed
        elif all(info.input_shape[:2]):
            tile = tuple(info.input_shape[:2])
        else:
            tile = (DEFAULT_TILE, DEFAULT_TILE)
    elif isinstance(tile_size, int):
        tile = (tile_size, tile_size)
    else:
        tile = tuple(tile_size)
    depth = factor.bit_length() - 1
    check_input_size(tile[0], depth, axis="tile height")
    check_input_size(tile[1], depth, axis="tile width")
    if all(fixed) and tile != fixed:
        raise ValueError(f"the model takes {fixed[0]}x{fixed[1]} inputs; tile_size {tile} differs")
    if not all(fixed):
        # a model that takes any size needs no tile larger than the (rounded-up) image
        tile = tuple(min(t, -(-s // factor) * factor) for t, s in zip(tile, shape))
    return (int(tile[0]), int(tile[1]))


def _batch_predictor(model: Any, tta: bool) -> Callable[[np.ndarray], np.ndarray]:
    def plain(batch: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(batch), dtype=np.float32)

    if not tta:
        return plain

    flips = ((1,), (2,), (1, 2))

    def flipped(batch: np.ndarray) -> np.ndarray:
        # the four views in one call: one transfer and a 4x larger batch for an accelerator
        n = len(batch)
        out = plain(np.concatenate([batch, *(np.flip(batch, axes) for axes in flips)]))
        total = out[:n].copy()
        for k, axes in enumerate(flips, start=1):
            total += np.flip(out[k * n : (k + 1) * n], axes)
        return total / 4.0

    return flipped


def _resize_proba(proba: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if proba.shape[:2] == size:
        return proba
    out = np.empty((size[0], size[1], proba.shape[2]), dtype=np.float32)
    for k in range(proba.shape[2]):
        im = Image.fromarray(np.ascontiguousarray(proba[..., k]), mode="F")
        out[..., k] = np.asarray(im.resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return out


def predict_proba(
    model: Any,
    image: np.ndarray,
    *,
    info: ModelInfo | None = None,
    tile_size: int | tuple[int, int] | None = None,
    overlap: float = 0.25,
    batch_size: int = 4,
    tta: bool = False,
) -> np.ndarray:
    """Class probabilities for a raw image.

    Parameters
    ----------
    model : keras.Model, path or Run
        A segkit U-Net (takes raw 0..255 values), or anything
        :func:`segkit.models.resolve_model` takes (a path is loaded on every call: resolve
        it once to predict many images).
    image : (M, N[, C]) ndarray
        Any size, uint8 or 16-bit/float (scaled to 8 bits), RGB(A) or grayscale.
    info : ModelInfo, optional
        Colour model, scale and default tile size; when omitted, the saved info of a path or
        run, else inferred from the model (:meth:`ModelInfo.from_model`).
    tile_size : int or (int, int), optional
        Sliding-window tile; default: the model's training input size (``info.input_shape``),
        else 256. Must divide by the model's down-sampling factor.
    overlap : float
        Fraction of a tile shared with its neighbours.
    batch_size : int
        Tiles predicted at once.
    tta : bool
        Average over horizontal, vertical and both flips (4x the work).

    Returns
    -------
    ndarray
        ``(M, N)`` foreground probability for a binary model, ``(M, N, K)`` otherwise; float32.
    """
    model, info = _resolve(model, info)
    raw_shape = np.asarray(image).shape[:2]
    arr = prepare_image(image, info)
    h, w = arr.shape[:2]
    tile = window_size(model, info, tile_size, (h, w))
    pad_h, pad_w = max(0, tile[0] - h), max(0, tile[1] - w)
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    # No padding of the last batch: a compiled model retraces once for the smaller batch and
    # then accepts any batch size, while padding would cost work on every image.
    proba = sliding_window(
        _batch_predictor(model, tta),
        arr,
        tile,
        overlap=overlap,
        batch_size=batch_size,
        pad_batches=False,
    )
    proba = _resize_proba(proba[:h, :w], raw_shape)
    return proba[..., 0] if proba.shape[2] == 1 else proba


def predict(
    model: Any,
    image: np.ndarray,
    *,
    info: ModelInfo | None = None,
    tile_size: int | tuple[int, int] | None = None,
    overlap: float = 0.25,
    batch_size: int = 4,
    tta: bool = False,
    threshold: float | None = None,
) -> np.ndarray:
    """Class-index mask for a raw image (see :func:`predict_proba` for the parameters).

    Binary models: foreground where the probability >= ``threshold`` (default
    ``info.threshold``, 0.5). Multi-class: the most probable class. The rule is
    :func:`segkit.decision.probabilities_to_mask`; an instance model's mask is in the data
    set's classes (:func:`segkit.decision.instance_probabilities_to_mask`).

    Returns
    -------
    (M, N) uint8 ndarray
        Class indices, the raw image's size.
    """
    model, info = _resolve(model, info)
    proba = predict_proba(
        model,
        image,
        info=info,
        tile_size=tile_size,
        overlap=overlap,
        batch_size=batch_size,
        tta=tta,
    )
    from segkit.decision import model_mask

    t = info.threshold if threshold is None else float(threshold)
    return model_mask(proba, threshold=t, target=info.target)
