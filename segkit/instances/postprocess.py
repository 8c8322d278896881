"""From predicted probabilities to instance labels: marker-controlled watershed.

Two paths, chosen by the shape of the probabilities:

- three classes (background, interior, boundary; a model trained on
  :func:`segkit.instances.make_boundary_target`): markers are the connected interiors,
  flooded over the boundary probability within the foreground;
- foreground only (a sigmoid output or any other semantic model): markers are the h-maxima
  of the distance to the background, flooded over the negative distance, so touching round
  nuclei are split where the mask narrows.

Either way, a foreground component that holds no marker becomes one object, objects smaller
than ``min_area`` are removed, holes are filled, and the labels are renumbered 1..N.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "DEFAULT_MIN_AREA",
    "DEFAULT_MIN_AREA_UM2",
    "DEFAULT_H",
    "min_area_pixels",
    "labels_from_probabilities",
    "labels_from_mask",
    "connected_components",
    "relabel",
]

#: Smallest nucleus, in pixels, where the pixel size is unknown.
DEFAULT_MIN_AREA = 10
#: Smallest nucleus, in square microns, where the pixel size is known: QuPath's default for its
#: cell detection. Smaller pieces are fragments of a nucleus or noise (a lymphocyte is ~40 µm²).
DEFAULT_MIN_AREA_UM2 = 10.0
DEFAULT_H = 2.0
_EIGHT = np.ones((3, 3), dtype=bool)


def min_area_pixels(
    pixel_um: tuple[float, float] | float | None, min_area_um2: float = DEFAULT_MIN_AREA_UM2
) -> int:
    """The smallest nucleus in pixels of size ``pixel_um`` (µm, or (row, column) µm).

    ``ceil(min_area_um2 / pixel area)``, at least 1; :data:`DEFAULT_MIN_AREA` when the pixel
    size is unknown (None).
    """
    if pixel_um is None:
        return DEFAULT_MIN_AREA
    dy, dx = (pixel_um, pixel_um) if isinstance(pixel_um, int | float) else pixel_um
    if not (dy > 0 and dx > 0):
        raise ValueError(f"pixel size must be > 0 µm, got {pixel_um!r}")
    if not min_area_um2 >= 0:
        raise ValueError(f"min_area_um2 must be >= 0, got {min_area_um2!r}")
    return max(1, int(np.ceil(min_area_um2 / (float(dy) * float(dx)) - 1e-9)))


def relabel(labels: np.ndarray, *, min_area: int = 0, fill_holes: bool = False) -> np.ndarray:
    """Renumber instances 1..N, keeping the order of their ids.

    Parameters
    ----------
    labels : (M, N) ndarray of int
        0 background, instances with any non-negative ids.
    min_area : int
        Instances with fewer pixels are removed (set to 0) first.
    fill_holes : bool
        Background pixels enclosed by foreground are given to the nearest instance first.

    Returns
    -------
    (M, N) ndarray
        uint16, or uint32 when there are more than 65535 instances.
    """
    arr = np.asarray(labels)
    if arr.ndim != 2 or arr.dtype.kind not in "biu":
        raise ValueError(f"expected an (M, N) integer label image, got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"label ids must be >= 0 (0 = background), found {arr.min()}")
    if fill_holes:
        arr = _fill_holes(arr)
    flat = arr.ravel()
    top = int(flat.max()) if flat.size else 0
    if top <= 4 * flat.size + 1024:
        ids, inverse = np.arange(top + 1), flat
        counts = np.bincount(flat, minlength=top + 1)
    else:  # few, very large ids
        ids, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    keep = (ids > 0) & (counts > 0) & (counts >= min_area)
    new = np.zeros(len(ids), dtype=np.int64)
    new[keep] = np.arange(1, int(keep.sum()) + 1)
    dtype = np.uint16 if keep.sum() <= np.iinfo(np.uint16).max else np.uint32
    return new[inverse].reshape(arr.shape).astype(dtype)


def _fill_holes(labels: np.ndarray) -> np.ndarray:
    fg = labels > 0
    holes = ndimage.binary_fill_holes(fg) & ~fg
    if not holes.any():
        return labels
    _, (ri, ci) = ndimage.distance_transform_edt(~fg, return_indices=True)
    out = labels.copy()
    out[holes] = labels[ri[holes], ci[holes]]
    return out


def connected_components(mask: np.ndarray, *, min_area: int = 0) -> np.ndarray:
    """Instances as the 8-connected components of a binary mask: the naive baseline.

    Parameters
    ----------
    mask : (M, N) ndarray
        Non-zero = foreground.
    min_area : int
        Components with fewer pixels are dropped.

    Returns
    -------
    (M, N) uint16 or uint32 ndarray
        Labels 1..N (see :func:`relabel`).
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"expected an (M, N) mask, got shape {arr.shape}")
    labels, _ = ndimage.label(arr > 0, structure=_EIGHT)
    return relabel(labels, min_area=min_area)


def _add_unmarked(markers: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Give every foreground component without a marker one marker: the whole component."""
    components, n = ndimage.label(foreground, structure=_EIGHT)
    if n == 0:
        return markers
    has = np.zeros(n + 1, dtype=bool)
    has[components[markers > 0]] = True
    missing = ~has[components] & foreground
    if not missing.any():
        return markers
    out = markers.copy()
    out[missing] = components[missing] + int(markers.max())
    return out


def _watershed(
    elevation: np.ndarray, markers: np.ndarray, foreground: np.ndarray, min_area: int
) -> np.ndarray:
    from skimage.segmentation import watershed

    markers = _add_unmarked(markers, foreground)
    labels = watershed(elevation, markers, mask=foreground)
    return relabel(labels, min_area=min_area, fill_holes=True)


def labels_from_mask(
    mask: np.ndarray, *, h: float = DEFAULT_H, min_area: int = DEFAULT_MIN_AREA
) -> np.ndarray:
    """Split a binary mask into instances: distance transform, h-maxima markers, watershed.

    Parameters
    ----------
    mask : (M, N) ndarray
        Non-zero = foreground.
    h : float
        A local maximum of the distance to the background becomes a marker when it stands at
        least ``h`` pixels above the saddle to a higher maximum; a larger ``h`` splits less.
    min_area : int
        Objects with fewer pixels are removed.

    Returns
    -------
    (M, N) uint16 or uint32 ndarray
        Labels 1..N.
    """
    from skimage.morphology import h_maxima

    fg = np.asarray(mask) > 0
    if fg.ndim != 2:
        raise ValueError(f"expected an (M, N) mask, got shape {fg.shape}")
    if not h > 0:
        raise ValueError(f"h must be > 0 pixels, got {h}")
    if not fg.any():
        return np.zeros(fg.shape, dtype=np.uint16)
    dist = ndimage.distance_transform_edt(fg)
    peaks = h_maxima(dist, h) > 0
    markers, _ = ndimage.label(peaks, structure=_EIGHT)
    return _watershed(-dist, markers, fg, min_area)


def _foreground_probability(arr: np.ndarray) -> np.ndarray | None:
    """The foreground probability of a one- or two-channel output; None for three channels."""
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 1:
        return arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 2:
        return arr[..., 1]
    if arr.ndim == 3 and arr.shape[2] == 3:
        return None
    raise ValueError(
        f"probabilities of shape {arr.shape}: expected (M, N) or (M, N, 1) foreground, "
        "(M, N, 2) background/foreground or (M, N, 3) background/interior/boundary; for "
        "another multi-class model pass 1 - probs[..., 0] (the foreground probability)"
    )


def labels_from_probabilities(
    probs: np.ndarray,
    *,
    threshold: float = 0.5,
    min_area: int = DEFAULT_MIN_AREA,
    h: float = DEFAULT_H,
) -> np.ndarray:
    """Instance labels from a model's probabilities.

    Parameters
    ----------
    probs : (M, N), (M, N, 1), (M, N, 2) or (M, N, 3) ndarray
        - ``(M, N)`` or ``(M, N, 1)``: foreground probability (sigmoid head);
        - ``(M, N, 2)``: background and foreground (softmax); channel 1 is used;
        - ``(M, N, 3)``: background, interior, boundary (softmax, trained on
          :func:`segkit.instances.make_boundary_target`).
    threshold : float
        Foreground where its probability (``1 - background`` for three classes) is
        ``>= threshold``. Three classes: markers are the connected components of
        ``interior >= threshold`` and ``interior > boundary``, flooded over the boundary
        probability within the foreground.
    min_area : int
        Objects with fewer pixels are removed.
    h : float
        Foreground paths only: see :func:`labels_from_mask`.

    Returns
    -------
    (M, N) uint16 or uint32 ndarray
        0 background, instances 1..N (uint32 when N > 65535).
    """
    arr = np.asarray(probs, dtype=np.float32)
    fg_prob = _foreground_probability(arr)
    if fg_prob is not None:
        return labels_from_mask(fg_prob >= threshold, h=h, min_area=min_area)
    background, interior, boundary = arr[..., 0], arr[..., 1], arr[..., 2]
    foreground = (1.0 - background) >= threshold
    seeds = (interior >= threshold) & (interior > boundary) & foreground
    markers, _ = ndimage.label(seeds, structure=_EIGHT)
    return _watershed(boundary, markers, foreground, min_area)
