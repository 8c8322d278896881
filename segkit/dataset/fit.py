"""Fitting a prepared pair (image, mask, instance labels, points) to the template's size.

The fit modes (``stretch``, ``pad``, ``crop``, ``tile``) of a template; the pixel operations
they use (resizing, colour models) belong to :mod:`segkit.imaging`. Labels (mask and
instances) are resized with nearest neighbour only; points are moved by the same scale and
offset, and a point that falls outside the output (or its tile) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from segkit.imaging import resize_image, resize_mask

__all__ = ["FittedPair", "fit_pair", "fit_points"]


@dataclass(frozen=True)
class FittedPair:
    """One output pair of :func:`fit_pair`.

    Attributes
    ----------
    image : (H, W[, C]) uint8 ndarray
    mask : (H, W) uint8 ndarray or None
        None for a pair without a mask (points only).
    scale : (float, float)
        ``(output rows / source rows, output cols / source cols)`` before padding or cropping.
    tile : (int, int) or None
        ``(row, col)`` in tile units (fit mode ``tile``).
    instances : (H, W) integer ndarray or None
        The instance labels, cut and resized like the mask (ids not renumbered here).
    offset : (int, int)
        ``(rows, cols)`` added to scaled source coordinates: the padding, minus the crop or
        the tile's origin.
    """

    image: np.ndarray
    mask: np.ndarray | None
    scale: tuple[float, float]
    tile: tuple[int, int] | None = None
    instances: np.ndarray | None = None
    offset: tuple[int, int] = (0, 0)


def fit_points(
    xy: np.ndarray, fitted: FittedPair, source_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(x, y)`` in the output's pixel coordinates, and which of them it keeps.

    A point outside the source image, or outside the output after the fit (cropped away, in
    another tile), is not kept: each point lands in at most one tile.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    h, w = source_size
    image = fitted.image  # an ndarray, or a Pillow image on prepare's fast path
    rows, cols = image.shape[:2] if isinstance(image, np.ndarray) else (image.height, image.width)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    out = np.empty_like(xy)
    out[:, 0] = xy[:, 0] * fitted.scale[1] + fitted.offset[1]
    out[:, 1] = xy[:, 1] * fitted.scale[0] + fitted.offset[0]
    keep = inside & (out[:, 0] >= 0) & (out[:, 0] < cols) & (out[:, 1] >= 0) & (out[:, 1] < rows)
    return out[keep], keep


def _labels(fn: Callable[[np.ndarray], np.ndarray], a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.ascontiguousarray(fn(a))


def _pad_to(a: np.ndarray, rows: int, cols: int, top: int, left: int) -> np.ndarray:
    out = np.zeros((rows, cols) + a.shape[2:], dtype=a.dtype)
    out[top : top + a.shape[0], left : left + a.shape[1]] = a
    return out


def fit_pair(
    image: np.ndarray,
    mask: np.ndarray | None,
    size: tuple[int, int],
    fit: str,
    *,
    instances: np.ndarray | None = None,
    rescale: float = 1.0,
) -> Iterator[FittedPair]:
    """Fit an image, its mask and its instance labels to ``size = (rows, cols)``.

    Parameters
    ----------
    image : (M, N[, C]) uint8 ndarray
    mask : (M, N) uint8 ndarray or None
    size : (int, int)
    fit : {'stretch', 'pad', 'crop', 'tile'}
        ``stretch``: resize ignoring the aspect ratio; ``pad``: resize keeping the aspect ratio
        so the image fits, then centre-pad with zeros; ``crop``: resize keeping the aspect ratio
        so the image covers the size, then centre-crop; ``tile``: no resizing, cut into tiles
        of ``size`` in row-major order, the last row/column zero-padded.
    instances : (M, N) integer ndarray, optional
        Fitted like the mask (nearest neighbour, padded with 0).
    rescale : float
        For ``tile``: resize by this factor first (``source mpp / template mpp``; area filter
        for the image, nearest neighbour for the labels), then cut. Only ``tile`` takes it.

    Yields
    ------
    FittedPair
        One for ``stretch``/``pad``/``crop``; one per tile for ``tile``.
    """
    if rescale != 1.0 and fit != "tile":
        raise ValueError(f"rescale: only fit 'tile' rescales first, got fit {fit!r}")
    rows, cols = size
    h, w = image.shape[:2]
    for what, labels in (("mask", mask), ("instance labels", instances)):
        if labels is not None and labels.shape[:2] != (h, w):
            raise ValueError(
                f"{what} is {labels.shape[1]}x{labels.shape[0]} but the image is {w}x{h}"
            )
    if fit == "stretch":
        yield FittedPair(
            resize_image(image, size),
            _labels(lambda a: resize_mask(a, size), mask),
            (rows / h, cols / w),
            instances=_labels(lambda a: resize_mask(a, size), instances),
        )
    elif fit in ("pad", "crop"):
        yield _pad_or_crop(image, mask, instances, size, fit)
    elif fit == "tile":
        scale = (1.0, 1.0)
        if rescale != 1.0:
            image, mask, instances, scale = _rescale(image, mask, instances, rescale)
            h, w = image.shape[:2]
        n_rows, n_cols = -(-h // rows), -(-w // cols)
        for i in range(n_rows):
            for j in range(n_cols):

                def cut(a: np.ndarray, i: int = i, j: int = j) -> np.ndarray:
                    part = a[i * rows : (i + 1) * rows, j * cols : (j + 1) * cols]
                    return (
                        part if part.shape[:2] == (rows, cols) else _pad_to(part, rows, cols, 0, 0)
                    )

                yield FittedPair(
                    np.ascontiguousarray(cut(image)),
                    _labels(cut, mask),
                    scale,
                    (i, j),
                    instances=_labels(cut, instances),
                    offset=(-i * rows, -j * cols),
                )
    else:
        raise ValueError(f"fit: expected stretch, pad, crop or tile, got {fit!r}")


def _rescale(
    image: np.ndarray, mask: np.ndarray | None, instances: np.ndarray | None, factor: float
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, tuple[float, float]]:
    """Image and labels resized by ``factor``, and the scale that was applied per axis."""
    if not factor > 0:
        raise ValueError(f"rescale: expected a factor > 0, got {factor!r}")
    h, w = image.shape[:2]
    rh, rw = max(1, round(h * factor)), max(1, round(w * factor))
    return (
        resize_image(image, (rh, rw)),
        _labels(lambda a: resize_mask(a, (rh, rw)), mask),
        _labels(lambda a: resize_mask(a, (rh, rw)), instances),
        (rh / h, rw / w),
    )


def _pad_or_crop(
    image: np.ndarray,
    mask: np.ndarray | None,
    instances: np.ndarray | None,
    size: tuple[int, int],
    fit: str,
) -> FittedPair:
    rows, cols = size
    h, w = image.shape[:2]
    s = min(rows / h, cols / w) if fit == "pad" else max(rows / h, cols / w)
    rh, rw = max(1, round(h * s)), max(1, round(w * s))
    fitted = FittedPair(
        resize_image(image, (rh, rw)),
        _labels(lambda a: resize_mask(a, (rh, rw)), mask),
        (rh / h, rw / w),
        instances=_labels(lambda a: resize_mask(a, (rh, rw)), instances),
    )
    if fit == "pad":
        top, left = (rows - rh) // 2, (cols - rw) // 2

        def place(a: np.ndarray) -> np.ndarray:
            return _pad_to(a, rows, cols, top, left)

        offset = (top, left)
    else:
        top, left = (rh - rows) // 2, (rw - cols) // 2

        def place(a: np.ndarray) -> np.ndarray:
            return a[top : top + rows, left : left + cols]

        offset = (-top, -left)
    return replace(
        fitted,
        image=np.ascontiguousarray(place(fitted.image)),
        mask=_labels(place, fitted.mask),
        instances=_labels(place, fitted.instances),
        offset=offset,
    )
