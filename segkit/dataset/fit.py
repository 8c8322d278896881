"""Fitting a prepared pair (image and mask together) to the template's size.

The fit modes (``stretch``, ``pad``, ``crop``, ``tile``) of a template; the pixel operations
they use (resizing, colour models) belong to :mod:`segkit.imaging`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from segkit.imaging import resize_image, resize_mask

__all__ = ["FittedPair", "fit_pair"]


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
