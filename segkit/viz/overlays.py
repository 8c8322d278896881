"""Masks and predictions drawn over images, as NumPy arrays (no matplotlib here).

Every function returns plain arrays (``uint8`` RGB pictures, boolean edges); the figures
(:mod:`segkit.viz.figures`), the widgets and the prediction overlays use them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from segkit.imaging import to_rgb

__all__ = [
    "CLASS_COLOURS",
    "as_label_mask",
    "colorize_mask",
    "mask_boundaries",
    "blend_overlay",
]

# Class 0 (background) is transparent; classes 1.. take these colours in turn.
CLASS_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 200, 83),  # green
    (255, 59, 48),  # red
    (0, 122, 255),  # blue
    (255, 204, 0),  # yellow
    (175, 82, 222),  # purple
    (90, 200, 250),  # cyan
    (255, 149, 0),  # orange
)
_MASK_COLOUR = (0, 200, 83)
_PREDICTION_COLOUR = (255, 0, 170)


def as_label_mask(mask: np.ndarray) -> np.ndarray:
    """Turn a mask into class (or instance) indices.

    A mask whose only values are {0, 255} (the on-disk binary encoding) becomes {0, 1};
    boolean masks become {0, 1}; anything else (class indices, instance labels) is kept.

    Parameters
    ----------
    mask : (M, N) ndarray

    Returns
    -------
    labels : (M, N) ndarray of int
    """
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"a mask is a 2-D array (M, N), got shape {m.shape}")
    if m.dtype == bool:
        return m.astype(np.uint8)
    if np.issubdtype(m.dtype, np.floating):
        m = np.rint(m)
    values = np.unique(m)
    if values.size <= 2 and set(values.tolist()) <= {0, 255}:
        return (m > 0).astype(np.uint8)
    return m.astype(np.int64) if m.dtype.kind == "i" else m


def colorize_mask(mask: np.ndarray, *, colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """Colour a mask: class ``k`` gets ``CLASS_COLOURS[k - 1]`` (or ``colour`` for every class).

    Parameters
    ----------
    mask : (M, N) ndarray
        Class indices, {0, 255} or boolean.
    colour : (r, g, b), optional
        One colour for all foreground classes.

    Returns
    -------
    rgb : (M, N, 3) uint8 ndarray
        Background is black.
    """
    labels = as_label_mask(mask)
    out = np.zeros((*labels.shape, 3), dtype=np.uint8)
    if colour is not None:
        out[labels > 0] = colour
        return out
    table = np.array(CLASS_COLOURS, dtype=np.uint8)
    fg = labels > 0
    out[fg] = table[(labels[fg].astype(np.int64) - 1) % len(table)]
    return out


def mask_boundaries(mask: np.ndarray, *, instances: bool = True) -> np.ndarray:
    """Pixels on the outline of each object.

    Parameters
    ----------
    mask : (M, N) ndarray
        Binary, class-index or instance-label mask.
    instances : bool
        Outline every object separately: a binary mask is first split into connected
        components. Class-index and instance-label masks get a line wherever the label
        changes (so touching instances with different ids stay apart).

    Returns
    -------
    edges : (M, N) bool ndarray
    """
    labels = as_label_mask(mask)
    if instances and labels.max(initial=0) <= 1:
        labels, _ = ndimage.label(labels > 0)
    labels = np.asarray(labels)
    fg = labels > 0
    edges = np.zeros(labels.shape, dtype=bool)
    padded = np.pad(labels, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
        edges |= neighbour != centre
    # Image borders count as edges of objects that touch them.
    edges[0, :] = True
    edges[-1, :] = True
    edges[:, 0] = True
    edges[:, -1] = True
    return edges & fg


def blend_overlay(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    prediction: np.ndarray | None = None,
    *,
    alpha: float = 0.4,
    contours: bool = False,
) -> np.ndarray:
    """Blend a mask and/or a prediction over an image.

    The mask is drawn in green (or per-class colours for multi-class masks), the prediction
    in magenta. With ``contours`` only the outline of every object is drawn, opaque, so the
    tissue underneath stays visible; otherwise the regions are filled with opacity ``alpha``.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
    mask, prediction : (M, N) ndarray, optional
    alpha : float
        Opacity of filled regions, 0 (invisible) to 1 (opaque).
    contours : bool

    Returns
    -------
    rgb : (M, N, 3) uint8 ndarray
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha: expected a value between 0 and 1, got {alpha!r}")
    rgb = to_rgb(image).astype(np.float32)
    layers = []
    if mask is not None:
        labels = as_label_mask(mask)
        colour = _MASK_COLOUR if labels.max(initial=0) <= 1 or contours else None
        layers.append((labels, colour))
    if prediction is not None:
        layers.append((as_label_mask(prediction), _PREDICTION_COLOUR))
    for labels, colour in layers:
        if labels.shape != rgb.shape[:2]:
            raise ValueError(
                f"mask of shape {labels.shape} does not match image of shape {rgb.shape[:2]}"
            )
        colours = colorize_mask(labels, colour=colour).astype(np.float32)
        if contours:
            sel = mask_boundaries(labels)
            rgb[sel] = colours[sel]
        else:
            sel = labels > 0
            rgb[sel] = (1.0 - alpha) * rgb[sel] + alpha * colours[sel]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
