"""Writing predicted masks in the template's encoding, and overlay pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["encode_mask", "overlay_image", "save_mask", "save_overlay"]

# Colours of classes 1..; class 0 (background) is left transparent.
_PALETTE = np.array(
    [
        [255, 40, 40],
        [40, 200, 40],
        [40, 110, 255],
        [255, 200, 0],
        [220, 0, 220],
        [0, 210, 210],
    ],
    dtype=np.float32,
)


def encode_mask(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """A class-index mask in the prepared data set's encoding.

    Binary (two classes): {0, 255}; multi-class: the class indices themselves.
    """
    mask = np.asarray(mask)
    if num_classes == 2:
        return np.where(mask > 0, 255, 0).astype(np.uint8)
    return mask.astype(np.uint8)


def save_mask(path: str | Path, mask: np.ndarray, num_classes: int) -> Path:
    """Write ``mask`` (class indices) atomically as a lossless PNG in the template's encoding."""
    from segkit.imaging import write_image

    p = Path(path)
    if p.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise ValueError(f"{p}: masks are written losslessly; use a .png (or .tif) name")
    return write_image(p, encode_mask(mask, num_classes))


def overlay_image(image: np.ndarray, mask: np.ndarray, *, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8 picture of ``image`` with each foreground class tinted in its own colour."""
    from segkit.imaging import to_uint8

    img = to_uint8(np.asarray(image))
    if img.ndim == 2:
        img = img[..., None]
    img = np.repeat(img[..., :1], 3, axis=2) if img.shape[2] < 3 else img[..., :3]
    out = img.astype(np.float32)
    for k in np.unique(mask):
        if k == 0:
            continue
        sel = mask == k
        colour = _PALETTE[(int(k) - 1) % len(_PALETTE)]
        out[sel] = (1.0 - alpha) * out[sel] + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_overlay(path: str | Path, image: np.ndarray, mask: np.ndarray) -> Path:
    """Write :func:`overlay_image` atomically (PNG)."""
    from segkit.imaging import write_image

    return write_image(Path(path), overlay_image(image, mask))
