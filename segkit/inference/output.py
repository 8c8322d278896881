"""Writing predicted masks in the template's encoding, and overlay pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segkit.imaging import encode_mask

__all__ = ["overlay_image", "save_mask", "save_overlay"]

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


def save_mask(path: str | Path, mask: np.ndarray, num_classes: int) -> Path:
    """Write ``mask`` (class indices) atomically as a lossless PNG in the template's encoding."""
    from segkit.imaging import write_image

    p = Path(path)
    if p.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise ValueError(f"{p}: masks are written losslessly; use a .png (or .tif) name")
    return write_image(p, encode_mask(mask, num_classes))


def overlay_image(
    image: np.ndarray, mask: np.ndarray, *, contours: bool = False, alpha: float = 0.45
) -> np.ndarray:
    """RGB uint8 picture of ``image`` with each foreground class in its own colour.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
    mask : (M, N) ndarray
        Class indices.
    contours : bool
        Draw the outline of every object, opaque, so the stain underneath stays visible;
        otherwise tint the whole of every object.
    alpha : float
        Opacity of the tint (filled style only).

    Returns
    -------
    (M, N, 3) uint8 ndarray
    """
    from segkit.imaging import to_color_model, to_uint8
    from segkit.viz.overlays import mask_boundaries

    out = to_color_model(to_uint8(np.asarray(image)), "rgb").astype(np.float32)
    labels = np.asarray(mask)
    drawn = mask_boundaries(labels) if contours else labels > 0
    for k in np.unique(labels[drawn]):
        if k == 0:
            continue
        sel = drawn & (labels == k)
        colour = _PALETTE[(int(k) - 1) % len(_PALETTE)]
        out[sel] = colour if contours else (1.0 - alpha) * out[sel] + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def save_overlay(
    path: str | Path,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    contours: bool = True,
    alpha: float = 0.45,
) -> Path:
    """Write :func:`overlay_image` atomically (PNG).

    Outlines by default, so the stain stays visible; ``contours=False`` fills the objects.
    """
    from segkit.imaging import write_image

    return write_image(Path(path), overlay_image(image, mask, contours=contours, alpha=alpha))
