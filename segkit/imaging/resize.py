"""Resizing images and masks.

Images are resized with an area (box) filter when shrinking and bilinear when enlarging;
masks only ever with nearest neighbour, so labels are never interpolated.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pil_resample", "resize_image", "resize_mask"]


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
