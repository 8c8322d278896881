"""Pixel conversions for prepared images: colour model, resizing and fitting to a size.

Images are resized with an area (box) filter when shrinking and bilinear when enlarging;
masks only ever with nearest neighbour, so labels are never interpolated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FittedPair",
    "to_grayscale",
    "to_color_model",
    "threshold_otsu",
    "binarize",
    "resize_image",
    "resize_mask",
    "fit_pair",
    "pil_resample",
]


@dataclass(frozen=True)
class FittedPair:
    """One output pair of :func:`fit_pair`.

    Attributes
    ----------
    image : (H, W[, C]) uint8 ndarray
    mask : (H, W) uint8 ndarray
    scale : (float, float)
        ``(output rows / source rows, output cols / source cols)`` before padding or cropping.
    tile : (int, int) or None
        ``(row, col)`` in tile units (fit mode ``tile``).
    """

    image: np.ndarray
    mask: np.ndarray
    scale: tuple[float, float]
    tile: tuple[int, int] | None = None


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


def pil_resample(src: tuple[int, int], dst: tuple[int, int]) -> int:
    """Pillow filter for an image resize from ``src`` to ``dst`` (rows, cols): box (area)
    when shrinking in both directions, bilinear otherwise."""
    from PIL import Image

    shrinking = dst[0] <= src[0] and dst[1] <= src[1]
    return Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 image to ``size = (rows, cols)``.

    Area (box) filter when shrinking in both directions, bilinear otherwise.
    """
    from PIL import Image

    rows, cols = size
    if image.shape[:2] == (rows, cols):
        return image
    im = Image.fromarray(np.ascontiguousarray(image))
    out = im.resize((cols, rows), pil_resample(image.shape[:2], (rows, cols)))
    return np.asarray(out)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a label mask to ``size = (rows, cols)`` with nearest neighbour only.

    Every output pixel is a copy of one source pixel (the one under its centre), so no new
    label values appear. Works for any integer dtype and for (M, N, 3) colour masks.
    """
    rows, cols = size
    if mask.shape[:2] == (rows, cols):
        return mask
    if mask.dtype == np.uint8 and (mask.ndim == 2 or mask.shape[2] == 3):
        from PIL import Image

        im = Image.fromarray(np.ascontiguousarray(mask))
        return np.asarray(im.resize((cols, rows), Image.Resampling.NEAREST))
    h, w = mask.shape[:2]
    r = np.minimum(((np.arange(rows) + 0.5) * (h / rows)).astype(np.intp), h - 1)
    c = np.minimum(((np.arange(cols) + 0.5) * (w / cols)).astype(np.intp), w - 1)
    return mask[r[:, None], c[None, :]]


def _pad_to(a: np.ndarray, rows: int, cols: int, top: int, left: int) -> np.ndarray:
    out = np.zeros((rows, cols) + a.shape[2:], dtype=a.dtype)
    out[top : top + a.shape[0], left : left + a.shape[1]] = a
    return out


def fit_pair(
    image: np.ndarray, mask: np.ndarray, size: tuple[int, int], fit: str
) -> Iterator[FittedPair]:
    """Fit an image and its mask to ``size = (rows, cols)``.

    Parameters
    ----------
    image : (M, N[, C]) uint8 ndarray
    mask : (M, N) uint8 ndarray
    size : (int, int)
    fit : {'stretch', 'pad', 'crop', 'tile'}
        ``stretch``: resize ignoring the aspect ratio; ``pad``: resize keeping the aspect ratio
        so the image fits, then centre-pad with zeros; ``crop``: resize keeping the aspect ratio
        so the image covers the size, then centre-crop; ``tile``: no resizing, cut into tiles
        of ``size`` in row-major order, the last row/column zero-padded.

    Yields
    ------
    FittedPair
        One for ``stretch``/``pad``/``crop``; one per tile for ``tile``.
    """
    rows, cols = size
    h, w = image.shape[:2]
    if mask.shape[:2] != (h, w):
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {w}x{h}")
    if fit == "stretch":
        yield FittedPair(resize_image(image, size), resize_mask(mask, size), (rows / h, cols / w))
    elif fit in ("pad", "crop"):
        s = min(rows / h, cols / w) if fit == "pad" else max(rows / h, cols / w)
        rh, rw = max(1, round(h * s)), max(1, round(w * s))
        img, msk = resize_image(image, (rh, rw)), resize_mask(mask, (rh, rw))
        if fit == "pad":
            top, left = (rows - rh) // 2, (cols - rw) // 2
            img, msk = _pad_to(img, rows, cols, top, left), _pad_to(msk, rows, cols, top, left)
        else:
            top, left = (rh - rows) // 2, (rw - cols) // 2
            img = np.ascontiguousarray(img[top : top + rows, left : left + cols])
            msk = np.ascontiguousarray(msk[top : top + rows, left : left + cols])
        yield FittedPair(img, msk, (rh / h, rw / w))
    elif fit == "tile":
        n_rows, n_cols = -(-h // rows), -(-w // cols)
        for i in range(n_rows):
            for j in range(n_cols):
                img = image[i * rows : (i + 1) * rows, j * cols : (j + 1) * cols]
                msk = mask[i * rows : (i + 1) * rows, j * cols : (j + 1) * cols]
                if img.shape[:2] != (rows, cols):
                    img, msk = _pad_to(img, rows, cols, 0, 0), _pad_to(msk, rows, cols, 0, 0)
                yield FittedPair(
                    np.ascontiguousarray(img), np.ascontiguousarray(msk), (1.0, 1.0), (i, j)
                )
    else:
        raise ValueError(f"fit: expected stretch, pad, crop or tile, got {fit!r}")
