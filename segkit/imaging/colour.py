"""Bit depth, channels and colour models: the one place an image changes its channels.

- :func:`to_uint8`: any dtype to 8 bits (percentile stretch).
- :func:`to_color_model`: a uint8 image to a template's colour model (``rgb``, ``grayscale``,
  ``binary``), lenient about its source (grey, grey + alpha, RGB, RGBA, more channels).
- :func:`to_channels`: grey, RGB or RGBA of any dtype to exactly 1 or 3 channels.
- :func:`to_rgb`: anything showable (bool, floats in 0..1, 16-bit) to an RGB picture.
- :func:`threshold_otsu`, :func:`binarize`: the ``binary`` colour model.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "to_uint8",
    "to_grayscale",
    "to_color_model",
    "to_channels",
    "to_rgb",
    "threshold_otsu",
    "binarize",
]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale an image to uint8.

    uint8 passes through. Other integer types and floats are scaled linearly from the
    image's own 0.1st-99.9th percentile range to 0-255 (so a 16-bit microscopy image whose
    values fill only a small part of 0-65535 stays visible); a constant image becomes 0.
    """
    if image.dtype == np.uint8:
        return image
    arr = image.astype(np.float64)
    lo, hi = np.percentile(arr, (0.1, 99.9))
    if hi <= lo:
        hi = arr.max()
        lo = arr.min()
    if hi <= lo:
        return np.zeros(image.shape, dtype=np.uint8)
    out = (arr - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of an RGB(A) uint8 image; a 2-D image passes through.

    Parameters
    ----------
    image : (M, N) or (M, N, C) uint8 ndarray

    Returns
    -------
    (M, N) uint8 ndarray
    """
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[..., 0]
    if image.shape[2] == 2:  # gray + alpha
        return image[..., 0]
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(image[..., :3])).convert("L"))


def to_color_model(image: np.ndarray, color_model: str) -> np.ndarray:
    """Convert a uint8 image to the channels of a colour model, before resizing.

    ``rgb`` gives (M, N, 3) (alpha dropped, gray repeated); ``grayscale`` and ``binary`` give
    (M, N) luma (``binary`` is thresholded later, by :func:`binarize`, after resizing).
    """
    if image.dtype != np.uint8:
        raise ValueError(f"to_color_model: expected a uint8 image, got {image.dtype}")
    if color_model == "rgb":
        if image.ndim == 2:
            return np.repeat(image[..., None], 3, axis=2)
        if image.shape[2] in (1, 2):
            return np.repeat(image[..., :1], 3, axis=2)
        return image[..., :3] if image.shape[2] > 3 else image
    if color_model in ("grayscale", "binary"):
        return to_grayscale(image)
    raise ValueError(f"color_model: expected rgb, grayscale or binary, got {color_model!r}")


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """A grey, RGB or RGBA image of any dtype as uint8 with exactly ``channels`` channels.

    Parameters
    ----------
    image : (M, N) or (M, N, C) ndarray
        ``C`` in 1, 3, 4; scaled with :func:`to_uint8` when not uint8.
    channels : {1, 3}
        1: luma; 3: RGB (grey repeated, alpha dropped).

    Returns
    -------
    (M, N, channels) uint8 ndarray

    Raises
    ------
    ValueError
        For other shapes (2 or more than 4 channels), naming the shape found.
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"an image is (M, N) or (M, N, C) with C in 1, 3, 4; got shape {arr.shape}"
        )
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    arr = to_color_model(to_uint8(arr), "rgb" if channels == 3 else "grayscale")
    return arr if arr.ndim == 3 else arr[..., None]


def to_rgb(image: np.ndarray) -> np.ndarray:
    """An (M, N, 3) uint8 picture of an image, for showing it.

    Boolean images become {0, 255}, floats within 0..1 are multiplied by 255, other types
    are scaled with :func:`to_uint8`; channels follow :func:`to_channels`.
    """
    img = np.asarray(image)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif (
        np.issubdtype(img.dtype, np.floating) and img.size and 0.0 <= img.min() <= img.max() <= 1.0
    ):
        img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    return to_channels(img, 3)


def threshold_otsu(image: np.ndarray) -> int:
    """Otsu's threshold of a uint8 image: pixels ``> t`` are foreground.

    A constant image gives its own value (so nothing is foreground).
    """
    hist = np.bincount(np.asarray(image, dtype=np.uint8).ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 0
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * levels)
    w1 = total - w0
    mean_all = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * w0 - m0 * total) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1.0
    if between.max() <= 0:
        return int(levels[np.argmax(hist)])
    return int(np.argmax(between))


def binarize(gray: np.ndarray) -> np.ndarray:
    """{0, 255} uint8 image: Otsu threshold of a grayscale uint8 image."""
    t = threshold_otsu(gray)
    return np.where(gray > t, 255, 0).astype(np.uint8)
