"""Instance segmentation scores on label images, as StarDist and HoVer-Net define them.

A label image holds 0 for the background and one positive integer id per instance; ids need
not be contiguous. Overlaps between all true and predicted instances come from one joint
histogram of the paired ids, so scoring a 1000x1000 image with hundreds of nuclei takes
milliseconds.

The empty rule is segkit's (see :mod:`segkit.evaluation.scores`): no true and no predicted
instance scores 1.0; instances on one side only score 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, spatial

__all__ = [
    "InstanceMatch",
    "match_instances",
    "f1_at_iou",
    "panoptic_quality",
    "aggregated_jaccard_index",
    "point_detection_scores",
]

# Above this many (true + 1) x (pred + 1) cells the joint histogram is built sparsely.
_DENSE_CELLS = 1 << 24


@dataclass(frozen=True)
class InstanceMatch:
    """One-to-one matching of true and predicted instances.

    Attributes
    ----------
    true_ids, pred_ids : (K,) ndarray of int64
        The ids (as in the label images) of the matched pairs.
    iou : (K,) ndarray of float64
        Intersection over union of each pair.
    n_true, n_pred : int
        Instances in the truth and in the prediction.
    """

    true_ids: np.ndarray
    pred_ids: np.ndarray
    iou: np.ndarray
    n_true: int
    n_pred: int

    @property
    def tp(self) -> int:
        """Matched pairs."""
        return len(self.iou)

    @property
    def fp(self) -> int:
        """Predicted instances without a partner."""
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        """True instances without a partner."""
        return self.n_true - self.tp


def _compact(labels: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Ids renumbered 0..n (0 stays background) as int64, and the original id of 1..n."""
    arr = np.asarray(labels)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: a label image needs integer ids, got dtype {arr.dtype}; "
            "label a binary mask first (segkit.instances.connected_components)"
        )
    flat = arr.ravel()
    if flat.size and arr.dtype.kind == "i" and flat.min() < 0:
        raise ValueError(f"{name}: label ids must be >= 0 (0 = background), found {flat.min()}")
    top = int(flat.max()) if flat.size else 0
    if top <= 4 * flat.size + 1024:
        present = np.bincount(flat, minlength=top + 1) > 0
        present[0] = False
        ids = np.flatnonzero(present)
        lut = np.zeros(top + 1, dtype=np.int64)
        lut[ids] = np.arange(1, len(ids) + 1)
        return lut[flat], ids.astype(np.int64)
    ids, inverse = np.unique(flat, return_inverse=True)
    if ids[0] == 0:
        return inverse.astype(np.int64), ids[1:].astype(np.int64)
    return inverse.astype(np.int64) + 1, ids.astype(np.int64)


@dataclass(frozen=True)
class _Overlaps:
    rows: np.ndarray  # compact true index 1..nt of each overlapping pair
    cols: np.ndarray  # compact predicted index 1..np
    inter: np.ndarray  # pixels shared
    area_true: np.ndarray  # (nt + 1,), index 0 = background
    area_pred: np.ndarray
    true_ids: np.ndarray  # original ids of 1..nt
    pred_ids: np.ndarray

    @property
    def iou(self) -> np.ndarray:
        union = self.area_true[self.rows] + self.area_pred[self.cols] - self.inter
        return self.inter / union


def _overlaps(true_labels: np.ndarray, pred_labels: np.ndarray) -> _Overlaps:
    t_shape, p_shape = np.shape(true_labels), np.shape(pred_labels)
    if t_shape != p_shape:
        raise ValueError(f"label image shapes differ: truth {t_shape}, prediction {p_shape}")
    t, t_ids = _compact(true_labels, "true_labels")
    p, p_ids = _compact(pred_labels, "pred_labels")
    nt, npred = len(t_ids), len(p_ids)
    area_t = np.bincount(t, minlength=nt + 1)
    area_p = np.bincount(p, minlength=npred + 1)
    width = npred + 1
    if (nt + 1) * width <= _DENSE_CELLS:
        joint = np.bincount(t * width + p, minlength=(nt + 1) * width).reshape(nt + 1, width)
        rows, cols = np.nonzero(joint[1:, 1:])
        rows, cols = rows + 1, cols + 1
        inter = joint[rows, cols]
    else:
        both = (t > 0) & (p > 0)
        keys, inter = np.unique(t[both] * width + p[both], return_counts=True)
        rows, cols = keys // width, keys % width
    return _Overlaps(rows, cols, inter, area_t, area_p, t_ids, p_ids)


def _assign(rows: np.ndarray, cols: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Indices of the candidate pairs in a one-to-one matching: the most pairs, and among
    matchings with that many pairs the largest total ``weight`` (each in [0, 1]).

    Pairs whose row and column take part in no other candidate are kept directly; the rest
    go to the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).
    """
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    _, r_inv, r_count = np.unique(rows, return_inverse=True, return_counts=True)
    _, c_inv, c_count = np.unique(cols, return_inverse=True, return_counts=True)
    alone = (r_count[r_inv] == 1) & (c_count[c_inv] == 1)
    chosen = [np.flatnonzero(alone)]
    rest = np.flatnonzero(~alone)
    if len(rest):
        r_keys, r_pos = np.unique(rows[rest], return_inverse=True)
        c_keys, c_pos = np.unique(cols[rest], return_inverse=True)
        # -1 for every pair, and a bonus below 1/2 in total, so the count of pairs comes first
        cost = np.zeros((len(r_keys), len(c_keys)))
        cost[r_pos, c_pos] = -1.0 - weight[rest] / (2.0 * len(rest))
        index = np.full(cost.shape, -1, dtype=np.int64)
        index[r_pos, c_pos] = rest
        ri, ci = optimize.linear_sum_assignment(cost)
        picked = index[ri, ci]
        chosen.append(picked[picked >= 0])
    return np.sort(np.concatenate(chosen))


def match_instances(
    true_labels: np.ndarray, pred_labels: np.ndarray, *, iou_threshold: float = 0.5
) -> InstanceMatch:
    """Match true and predicted instances one to one at IoU >= ``iou_threshold``.

    Among the pairs with IoU >= ``iou_threshold``, the matching with the most pairs and, among
    those, the largest total IoU (Hungarian algorithm, as StarDist's ``matching``). For a
    threshold >= 0.5 only pairs with a unique partner can qualify (except exact ties at 0.5).

    Parameters
    ----------
    true_labels, pred_labels : (M, N) ndarray of int
        Label images: 0 background, positive ids for instances (any order, gaps allowed).
    iou_threshold : float
        In (0, 1]; a pair needs at least this IoU.

    Returns
    -------
    InstanceMatch
        Matched ids and their IoU, with ``tp``, ``fp`` and ``fn``.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    ov = _overlaps(true_labels, pred_labels)
    iou = ov.iou
    keep = np.flatnonzero(iou >= iou_threshold)
    picked = keep[_assign(ov.rows[keep], ov.cols[keep], iou[keep])]
    return InstanceMatch(
        true_ids=ov.true_ids[ov.rows[picked] - 1],
        pred_ids=ov.pred_ids[ov.cols[picked] - 1],
        iou=iou[picked].astype(np.float64),
        n_true=len(ov.true_ids),
        n_pred=len(ov.pred_ids),
    )


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 1.0


def _detection(tp: int, fp: int, fn: int) -> dict[str, float]:
    # every denominator is 0 only when nothing exists on either side: 1.0 (the empty rule);
    # with something on one side and no match the numerators are 0, so the ratios are 0.0
    if tp + fp + fn == 0:
        p = r = f1 = 1.0
    else:
        p = float(tp) / (tp + fp) if tp + fp else 0.0
        r = float(tp) / (tp + fn) if tp + fn else 0.0
        f1 = 2.0 * tp / (2 * tp + fp + fn)
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def f1_at_iou(
    true_labels: np.ndarray, pred_labels: np.ndarray, *, iou_threshold: float = 0.5
) -> dict[str, float]:
    """Object precision, recall and F1 of :func:`match_instances` at ``iou_threshold``.

    ``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``,
    ``F1 = 2 TP / (2 TP + FP + FN)``. No instances on either side: all 1.0; instances on one
    side only: all 0.0.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (floats) and the counts ``tp``, ``fp``, ``fn``.
    """
    m = match_instances(true_labels, pred_labels, iou_threshold=iou_threshold)
    return _detection(m.tp, m.fp, m.fn)


def panoptic_quality(
    true_labels: np.ndarray, pred_labels: np.ndarray, *, iou_threshold: float = 0.5
) -> dict[str, float]:
    """Panoptic quality ``PQ = DQ x SQ`` (Kirillov et al. 2019; HoVer-Net's nucleus PQ).

    ``DQ = TP / (TP + FP/2 + FN/2)`` (the F1 of :func:`f1_at_iou`) and ``SQ`` is the mean IoU
    of the matched pairs. No instances on either side: PQ = DQ = SQ = 1.0. Instances but no
    match: DQ = 0 and SQ = 0.0 (no pair to average), so PQ = 0.0.

    Returns
    -------
    dict
        ``pq``, ``dq``, ``sq``.
    """
    m = match_instances(true_labels, pred_labels, iou_threshold=iou_threshold)
    if m.n_true + m.n_pred == 0:
        return {"pq": 1.0, "dq": 1.0, "sq": 1.0}
    dq = 2.0 * m.tp / (2 * m.tp + m.fp + m.fn)
    sq = float(m.iou.mean()) if m.tp else 0.0
    return {"pq": dq * sq, "dq": dq, "sq": sq}


def aggregated_jaccard_index(true_labels: np.ndarray, pred_labels: np.ndarray) -> float:
    """Aggregated Jaccard Index (Kumar et al. 2017, as HoVer-Net's ``get_fast_aji``).

    Each true nucleus ``G_i`` is paired with the predicted nucleus ``S_j`` of highest IoU
    (not one to one: a prediction may serve several true nuclei; ties go to the lower id);
    ``C = sum |G_i ∩ S_j|``, ``U = sum |G_i ∪ S_j|``. A true nucleus that overlaps no
    prediction adds its area to ``U``, and so does every predicted nucleus that no true
    nucleus chose. ``AJI = C / U``.

    No instances on either side: 1.0; instances on one side only: 0.0.
    """
    ov = _overlaps(true_labels, pred_labels)
    nt, npred = len(ov.true_ids), len(ov.pred_ids)
    if nt + npred == 0:
        return 1.0
    iou = ov.iou
    # the best prediction of each true nucleus: sort by (row, -iou, col), take the first
    order = np.lexsort((ov.cols, -iou, ov.rows))
    rows, cols, inter = ov.rows[order], ov.cols[order], ov.inter[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    rows, cols, inter = rows[first], cols[first], inter[first]
    union = ov.area_true[rows] + ov.area_pred[cols] - inter
    unpaired_true = ov.area_true[1:].sum() - ov.area_true[rows].sum()
    used = np.zeros(npred + 1, dtype=bool)
    used[cols] = True
    unused_pred = ov.area_pred[1:][~used[1:]].sum()
    total = union.sum() + unpaired_true + unused_pred
    return float(inter.sum()) / float(total)


def _centroids(pred_labels: np.ndarray) -> np.ndarray:
    """``(K, 2)`` xy centroids (mean column, mean row of the pixel indices) of each instance."""
    arr = np.asarray(pred_labels)
    if arr.ndim != 2:
        raise ValueError(f"pred_labels: expected an (M, N) label image, got shape {arr.shape}")
    flat, ids = _compact(arr, "pred_labels")
    n = len(ids) + 1
    rows, cols = np.indices(arr.shape).reshape(2, -1)
    area = np.bincount(flat, minlength=n)[1:]
    cy = np.bincount(flat, weights=rows, minlength=n)[1:] / area
    cx = np.bincount(flat, weights=cols, minlength=n)[1:] / area
    return np.stack([cx, cy], axis=1)


def _xy(points: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name}: expected (N, 2) xy coordinates, got shape {arr.shape}")
    return arr


def _match_points(truth: np.ndarray, pred: np.ndarray, radius: float) -> tuple[int, int, int]:
    if len(truth) and len(pred):
        near = spatial.cKDTree(truth).sparse_distance_matrix(
            spatial.cKDTree(pred), radius, output_type="ndarray"
        )
        weight = 1.0 - near["v"] / (radius + 1e-12)
        tp = len(_assign(near["i"], near["j"], weight))
    else:
        tp = 0
    return tp, len(pred) - tp, len(truth) - tp


def point_detection_scores(
    points: np.ndarray,
    pred_labels: np.ndarray | None = None,
    *,
    radius: float,
    pred_centroids: np.ndarray | None = None,
    point_classes: np.ndarray | None = None,
    pred_classes: np.ndarray | None = None,
) -> dict[str, float]:
    """Detection precision, recall and F1 of predicted nuclei against annotated points.

    A predicted nucleus (its centroid) and an annotated point match when they lie at most
    ``radius`` pixels apart; matching is one to one: the most pairs, then the smallest total
    distance (Hungarian algorithm). The empty rule of :func:`f1_at_iou` applies.

    Parameters
    ----------
    points : (N, 2) array_like
        Annotated points as ``(x, y)`` = (column, row) pixel coordinates.
    pred_labels : (M, N) ndarray of int, optional
        Predicted label image; its instances' centroids (mean column, mean row) are used.
    radius : float
        Largest centroid distance of a match, in pixels.
    pred_centroids : (K, 2) array_like, optional
        Predicted ``(x, y)`` centroids, in place of ``pred_labels`` (give exactly one).
    point_classes, pred_classes : (N,) and (K,) array_like of int, optional
        Class of each point and of each prediction (in the order of ``pred_centroids``, or
        of increasing label id). When given, the result adds ``precision_<c>``,
        ``recall_<c>``, ``f1_<c>`` for every class ``c`` present on either side, from
        matching the points and predictions of that class only.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``fn`` over all classes (matching
        ignores the classes), plus the per-class scores.
    """
    if (pred_labels is None) == (pred_centroids is None):
        raise ValueError("give exactly one of pred_labels (a label image) and pred_centroids")
    if not radius > 0:
        raise ValueError(f"radius must be > 0 pixels, got {radius}")
    truth = _xy(points, "points")
    if pred_centroids is not None:
        pred = _xy(pred_centroids, "pred_centroids")
    else:
        pred = _centroids(np.asarray(pred_labels))
    scores = _detection(*_match_points(truth, pred, radius))
    if (point_classes is None) != (pred_classes is None):
        raise ValueError("give both point_classes and pred_classes, or neither")
    if point_classes is None or pred_classes is None:
        return scores
    tc, pc = np.asarray(point_classes).ravel(), np.asarray(pred_classes).ravel()
    if len(tc) != len(truth) or len(pc) != len(pred):
        raise ValueError(
            f"{len(tc)} point classes for {len(truth)} points and {len(pc)} prediction "
            f"classes for {len(pred)} predictions: expected one class each"
        )
    for c in np.unique(np.concatenate([tc, pc])):
        per = _detection(*_match_points(truth[tc == c], pred[pc == c], radius))
        for key in ("precision", "recall", "f1"):
            scores[f"{key}_{c}"] = per[key]
    return scores
