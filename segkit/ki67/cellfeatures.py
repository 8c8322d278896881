"""Per-nucleus features for telling tumour nuclei from lymphocytes and other nuclei.

:func:`cell_features` measures every nucleus of an instance label image: its size and shape
(area in µm², elongation, solidity), its stain (hematoxylin and DAB optical density: mean,
standard deviation, maximum; the mean OD of the three colour channels), the texture of its
hematoxylin (mean gradient), the stain of a thin ring around it (the cytoplasm) and how many
nuclei lie near it. Sizes are in µm, so that a classifier trained at one magnification
applies at another when ``mpp`` is given. Vectorised with label statistics (no loop over
nuclei) except the convex hulls of the solidity.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from segkit.ki67.measure import check_labels
from segkit.stain import H_DAB, StainVectors, optical_density, separate_stains, stain_preset

__all__ = ["CELL_FEATURES", "DEFAULT_MPP", "cell_features"]

#: The features :func:`cell_features` returns, in its column order.
CELL_FEATURES = (
    "log_area_um2",
    "elongation",
    "solidity",
    "hematoxylin_od_mean",
    "hematoxylin_od_std",
    "hematoxylin_od_max",
    "dab_od_mean",
    "dab_od_std",
    "dab_od_max",
    "red_od_mean",
    "green_od_mean",
    "blue_od_mean",
    "hematoxylin_gradient",
    "ring_hematoxylin_od",
    "ring_dab_od",
    "neighbours_25um",
)
#: Microns per pixel assumed when none is given (a 40x scan, as ``segkit:nuclei`` assumes).
DEFAULT_MPP = 0.25
_RING_UM = 2.0
_NEIGHBOUR_UM = 25.0


class _Sums:
    """Per-nucleus sums over the foreground pixels only (one ``bincount`` each)."""

    def __init__(self, labels: np.ndarray, ids: np.ndarray) -> None:
        fg = labels > 0
        self.fg = fg
        self.index = np.searchsorted(ids, labels[fg])
        self.n = len(ids)
        self.area = np.bincount(self.index, minlength=self.n).astype(np.float64)

    def mean(self, values: np.ndarray) -> np.ndarray:
        v = values[self.fg] if values.shape == self.fg.shape else values
        return np.bincount(self.index, weights=v, minlength=self.n) / self.area

    def std(self, values: np.ndarray) -> np.ndarray:
        v = values[self.fg].astype(np.float64)
        return np.sqrt(np.maximum(self.mean(v**2) - self.mean(v) ** 2, 0.0))

    def max(self, values: np.ndarray) -> np.ndarray:
        out = np.full(self.n, -np.inf)
        np.maximum.at(out, self.index, values[self.fg].astype(np.float64))
        return out


def _shape(labels: np.ndarray, ids: np.ndarray, sums: _Sums) -> tuple[np.ndarray, ...]:
    """Centroids, elongation (major / minor axis of the second moments) and solidity."""
    from skimage.measure import regionprops_table

    rows, cols = np.nonzero(sums.fg)
    rows, cols = rows.astype(np.float64), cols.astype(np.float64)
    y, x = sums.mean(rows), sums.mean(cols)
    yy = sums.mean(rows**2) - y**2
    xx = sums.mean(cols**2) - x**2
    xy = sums.mean(rows * cols) - x * y
    half_trace, det = (xx + yy) / 2, xx * yy - xy**2
    root = np.sqrt(np.maximum(half_trace**2 - det, 0.0))
    major, minor = half_trace + root, np.maximum(half_trace - root, 1e-6)
    elongation = np.sqrt(np.maximum(major, 1e-6) / minor)
    props = regionprops_table(labels, properties=("label", "solidity"))
    solidity = np.ones(len(ids))
    solidity[np.searchsorted(ids, props["label"])] = props["solidity"]
    return x, y, np.minimum(elongation, 20.0), solidity


def _neighbours(x: np.ndarray, y: np.ndarray, radius_px: float) -> np.ndarray:
    from scipy.spatial import cKDTree

    if len(x) < 2:
        return np.zeros(len(x))
    tree = cKDTree(np.c_[x, y])
    counts = tree.query_ball_point(np.c_[x, y], r=radius_px, return_length=True)
    return np.asarray(counts, dtype=np.float64) - 1.0


def cell_features(
    image: np.ndarray,
    labels: np.ndarray,
    stains: StainVectors | str = H_DAB,
    *,
    mpp: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`CELL_FEATURES` of every nucleus of ``labels``.

    Parameters
    ----------
    image : (M, N, 3) ndarray
        8-bit RGB brightfield image.
    labels : (M, N) ndarray of int
        Instance labels, 0 background.
    stains : StainVectors or preset name
        With the glass's white point (``StainVectors.with_background``) where known.
    mpp : float, optional
        Microns per pixel of ``image`` (default :data:`DEFAULT_MPP`).

    Returns
    -------
    ids : (K,) int64 ndarray
        The nucleus ids, ascending (the row order of :func:`segkit.ki67.measure_nuclei`).
    features : (K, F) float64 ndarray
        One row per nucleus, the columns of :data:`CELL_FEATURES`.
    """
    from skimage.segmentation import expand_labels

    labels = check_labels(labels, np.shape(image))
    scale = DEFAULT_MPP if mpp is None else float(mpp)
    if not scale > 0:
        raise ValueError(f"mpp: expected microns per pixel > 0, got {mpp!r}")
    ids = np.unique(labels)
    ids = ids[ids > 0].astype(np.int64)
    if len(ids) == 0:
        return ids, np.zeros((0, len(CELL_FEATURES)))
    sv = stain_preset(stains)
    conc = separate_stains(image, sv)
    hema = conc[..., sv.index("Hematoxylin")].astype(np.float64)
    dab = conc[..., sv.index("DAB")].astype(np.float64)
    od = optical_density(image, background=sv.background)
    sums = _Sums(labels, ids)
    x, y, elongation, solidity = _shape(labels, ids, sums)
    gradient = np.hypot(ndimage.sobel(hema, axis=0), ndimage.sobel(hema, axis=1)) / 8.0
    ring = expand_labels(labels, distance=max(1.0, _RING_UM / scale))
    ring[labels > 0] = 0
    ring_ids = np.isin(ids, np.unique(ring))

    def ring_mean(values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids))
        if ring_ids.any():
            out[ring_ids] = ndimage.mean(values, ring, ids[ring_ids])
        return out

    columns = [
        np.log(sums.area * scale**2),
        elongation,
        solidity,
        sums.mean(hema),
        sums.std(hema),
        sums.max(hema),
        sums.mean(dab),
        sums.std(dab),
        sums.max(dab),
        *(sums.mean(od[..., c]) for c in range(3)),
        sums.mean(gradient) * scale / DEFAULT_MPP,
        ring_mean(hema),
        ring_mean(dab),
        _neighbours(x, y, _NEIGHBOUR_UM / scale),
    ]
    return ids, np.stack(columns, axis=-1).astype(np.float64)
