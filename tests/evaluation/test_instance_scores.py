"""Instance scores: hand-computed cases, properties, the empty rule, and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from segkit.evaluation import (
    aggregated_jaccard_index,
    f1_at_iou,
    match_instances,
    panoptic_quality,
    point_detection_scores,
)
from segkit.evaluation.instance_scores import _assign

# Truth: t1 (8 px), t2 (4 px), t3 (4 px). Prediction: p5 (6 px) inside t1, p7 (6 px) covers t2,
# p9 (1 px) touches nothing.
TRUTH = np.array(
    [
        [1, 1, 1, 1, 0, 2, 2, 0, 0, 0],
        [1, 1, 1, 1, 0, 2, 2, 0, 3, 3],
        [0, 0, 0, 0, 0, 0, 0, 0, 3, 3],
    ]
)
PRED = np.array(
    [
        [5, 5, 5, 0, 0, 7, 7, 7, 0, 9],
        [5, 5, 5, 0, 0, 7, 7, 7, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
)


def _blobs(shape: tuple[int, int], n_side: int, seed: int = 0) -> np.ndarray:
    """Round nuclei on a jittered grid (some touch), ids 1..N."""
    rng = np.random.default_rng(seed)
    out = np.zeros(shape, dtype=np.int32)
    rr, cc = np.ogrid[: shape[0], : shape[1]]
    step = shape[0] // n_side
    k = 0
    for y in range(step // 2, shape[0], step):
        for x in range(step // 2, shape[1], step):
            k += 1
            r = rng.uniform(0.3, 0.6) * step
            cy, cx = y + rng.uniform(-2, 2), x + rng.uniform(-2, 2)
            out[((rr - cy) ** 2 + (cc - cx) ** 2 < r * r) & (out == 0)] = k
    return out


def test_match_instances_by_hand():
    # IoU(t1, p5) = 6 / 8 = 0.75; IoU(t2, p7) = 4 / 6; p9 and t3 overlap nothing
    m = match_instances(TRUTH, PRED)
    assert list(zip(m.true_ids, m.pred_ids)) == [(1, 5), (2, 7)]
    np.testing.assert_allclose(m.iou, [0.75, 4 / 6])
    assert (m.tp, m.fp, m.fn, m.n_true, m.n_pred) == (2, 1, 1, 3, 3)


def test_f1_at_iou_by_hand():
    # TP 2, FP 1 (p9), FN 1 (t3): precision = recall = 2/3, F1 = 2*2 / (2*2 + 1 + 1) = 2/3
    s = f1_at_iou(TRUTH, PRED)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    # at IoU 0.7 only (t1, p5) is left: TP 1, FP 2, FN 2, F1 = 2 / (2 + 2 + 2) = 1/3
    assert f1_at_iou(TRUTH, PRED, iou_threshold=0.7)["f1"] == pytest.approx(1 / 3)


def test_panoptic_quality_by_hand():
    # DQ = 2 / (2 + 1/2 + 1/2) = 2/3; SQ = (0.75 + 4/6) / 2 = 17/24; PQ = 34/72
    s = panoptic_quality(TRUTH, PRED)
    assert s["dq"] == pytest.approx(2 / 3)
    assert s["sq"] == pytest.approx(17 / 24)
    assert s["pq"] == pytest.approx(34 / 72)


def test_aggregated_jaccard_index_by_hand():
    # t1 -> p5: C 6, U 8; t2 -> p7: C 4, U 6; t3 overlaps nothing: U += 4;
    # p9 is chosen by no true nucleus: U += 1. AJI = 10 / 19
    assert aggregated_jaccard_index(TRUTH, PRED) == pytest.approx(10 / 19)


def test_one_prediction_chosen_by_two_true_nuclei_counts_twice_in_aji():
    # t1 = cols 0-1, t2 = cols 2-3 (2 px each); p1 covers cols 0-3 (4 px)
    # both choose p1: C = 2 + 2, U = 4 + 4 -> AJI 1/2; at IoU 0.5 one of them matches
    truth = np.array([[1, 1, 2, 2]])
    pred = np.array([[1, 1, 1, 1]])
    assert aggregated_jaccard_index(truth, pred) == pytest.approx(0.5)
    assert f1_at_iou(truth, pred)["tp"] == 1


def test_a_nucleus_split_in_two_halves():
    # t1 (8 px) split into p1 and p2 (4 px each): IoU 0.5 each, one of them matches.
    # F1 = 2 / (2 + 1 + 0) = 2/3; SQ = 0.5, PQ = 1/3; AJI: t1 -> p1 (tie: lower id),
    # C = 4, U = 8, p2 unused: U += 4 -> 4/12 = 1/3
    truth = np.ones((2, 4), dtype=int)
    pred = np.array([[1, 1, 2, 2], [1, 1, 2, 2]])
    assert f1_at_iou(truth, pred)["f1"] == pytest.approx(2 / 3)
    assert panoptic_quality(truth, pred)["pq"] == pytest.approx(1 / 3)
    assert aggregated_jaccard_index(truth, pred) == pytest.approx(1 / 3)


def test_a_nucleus_split_unevenly():
    # t1 (10 px) into p1 (6 px, IoU 0.6) and p2 (4 px, IoU 0.4): TP 1 (p1), FP 1
    # F1 2/3; PQ = 2/3 * 0.6 = 0.4; AJI = 6 / (10 + 4) = 3/7
    truth = np.ones((2, 5), dtype=int)
    pred = np.array([[1, 1, 1, 2, 2], [1, 1, 1, 2, 2]])
    assert f1_at_iou(truth, pred)["f1"] == pytest.approx(2 / 3)
    assert panoptic_quality(truth, pred)["pq"] == pytest.approx(0.4)
    assert aggregated_jaccard_index(truth, pred) == pytest.approx(3 / 7)


def test_matching_maximises_the_number_of_pairs_not_greedily():
    # A = cols 0-5, B = cols 6-9; X (id 3) = cols 2-7, Y (id 4) = cols 0-1.
    # IoU(A, X) = 4/8, IoU(B, X) = 2/8, IoU(A, Y) = 2/6. Greedy takes (A, X) and stops at one
    # pair; the one-to-one optimum at IoU >= 0.2 is (A, Y) + (B, X).
    truth = np.array([[1, 1, 1, 1, 1, 1, 2, 2, 2, 2]])
    pred = np.array([[4, 4, 3, 3, 3, 3, 3, 3, 0, 0]])
    m = match_instances(truth, pred, iou_threshold=0.2)
    assert sorted(zip(m.true_ids.tolist(), m.pred_ids.tolist())) == [(1, 4), (2, 3)]
    np.testing.assert_allclose(sorted(m.iou), [0.25, 1 / 3])


def test_assign_prefers_the_larger_total_weight_among_equal_counts():
    rows, cols = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    weight = np.array([0.9, 0.5, 0.6, 0.1])  # (0,0)+(1,1) = 1.0 < (0,1)+(1,0) = 1.1
    assert _assign(rows, cols, weight).tolist() == [1, 2]


def test_identical_labels_score_one():
    labels = _blobs((120, 120), 6)
    assert f1_at_iou(labels, labels)["f1"] == 1.0
    assert panoptic_quality(labels, labels) == {"pq": 1.0, "dq": 1.0, "sq": 1.0}
    assert aggregated_jaccard_index(labels, labels) == 1.0


def test_permuted_and_sparse_ids_give_the_same_scores():
    truth = _blobs((120, 120), 6, seed=1)
    pred = np.roll(_blobs((120, 120), 6, seed=2), 1, axis=0)
    rng = np.random.default_rng(0)
    ids = np.concatenate([[0], rng.choice(10**7, truth.max(), replace=False) + 1])
    relabelled = ids[pred]  # non-contiguous, shuffled, int64, large
    for score in (f1_at_iou, panoptic_quality, aggregated_jaccard_index):
        expected = score(truth, pred)
        assert score(truth, relabelled) == pytest.approx(expected, rel=1e-12)
        assert score(ids[truth], pred) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("truth", "pred", "expected"),
    [
        (np.zeros((4, 4), int), np.zeros((4, 4), int), 1.0),
        (np.zeros((4, 4), int), np.eye(4, dtype=int), 0.0),
        (np.eye(4, dtype=int), np.zeros((4, 4), int), 0.0),
    ],
    ids=["both-empty", "truth-empty", "prediction-empty"],
)
def test_the_empty_rule(truth, pred, expected):
    f1 = f1_at_iou(truth, pred)
    assert (f1["precision"], f1["recall"], f1["f1"]) == (expected,) * 3
    assert panoptic_quality(truth, pred) == {"pq": expected, "dq": expected, "sq": expected}
    assert aggregated_jaccard_index(truth, pred) == expected


def test_bad_inputs_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="shapes differ"):
        f1_at_iou(np.zeros((3, 3), int), np.zeros((3, 4), int))
    with pytest.raises(ValueError, match="integer ids"):
        aggregated_jaccard_index(np.zeros((3, 3)), np.zeros((3, 3), int))
    with pytest.raises(ValueError, match=">= 0"):
        panoptic_quality(-np.ones((3, 3), int), np.zeros((3, 3), int))
    with pytest.raises(ValueError, match="iou_threshold"):
        match_instances(np.zeros((3, 3), int), np.zeros((3, 3), int), iou_threshold=0)


def test_a_bool_mask_is_one_instance():
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    assert aggregated_jaccard_index(mask, mask.astype(np.uint16) * 7) == 1.0


def test_scoring_a_large_image_takes_well_under_a_second():
    truth = _blobs((1000, 1000), 23)  # 529 nuclei
    pred = np.roll(truth, 2, axis=1)
    start = time.perf_counter()
    f1_at_iou(truth, pred)
    panoptic_quality(truth, pred)
    aggregated_jaccard_index(truth, pred)
    assert time.perf_counter() - start < 1.0


def test_point_detection_by_hand():
    # (10,10)-(11,10) at distance 1 match; (20,20)-(20,23) at 3 > radius 2 do not;
    # TP 1, FP 2, FN 2: precision = recall = F1 = 1/3
    s = point_detection_scores(
        [(10, 10), (20, 20), (30, 5)], pred_centroids=[(11, 10), (20, 23), (50, 50)], radius=2
    )
    assert (s["tp"], s["fp"], s["fn"]) == (1, 2, 2)
    assert s["f1"] == pytest.approx(1 / 3)


def test_point_detection_is_one_to_one_and_maximal():
    # point 1 is near both predictions, point 0 only near prediction 0: two pairs
    s = point_detection_scores([(0, 0), (2, 0)], pred_centroids=[(1, 0), (3, 0)], radius=1.5)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 0, 0)
    # one prediction cannot serve two points
    s = point_detection_scores([(0, 0), (2, 0)], pred_centroids=[(1, 0)], radius=1.5)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 0, 1)


def test_point_detection_from_a_label_image_uses_xy_centroids():
    labels = np.zeros((30, 40), dtype=np.uint16)
    labels[8:13, 18:23] = 4  # centroid x = 20, y = 10
    labels[20:23, 2:5] = 9  # centroid x = 3, y = 21
    s = point_detection_scores([(20, 10)], labels, radius=1)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 0)
    assert point_detection_scores([(10, 20)], labels, radius=1)["tp"] == 0  # (row, col) swapped


def test_point_detection_per_class():
    # class 1: (0,0)-(0,1) match; class 2: the point at (10,0) has only a class-1 prediction
    points, classes = [(0, 0), (10, 0)], [1, 2]
    pred, pred_classes = [(0, 1), (10, 1)], [1, 1]
    s = point_detection_scores(
        points, pred_centroids=pred, radius=2, point_classes=classes, pred_classes=pred_classes
    )
    assert s["f1"] == 1.0  # classes ignored overall
    assert s["f1_1"] == pytest.approx(2 / 3)  # TP 1, FP 1, FN 0
    assert s["recall_2"] == 0.0


def test_point_detection_empty_rule_and_errors():
    assert point_detection_scores(np.zeros((0, 2)), pred_centroids=[], radius=3)["f1"] == 1.0
    assert point_detection_scores([(1, 1)], pred_centroids=[], radius=3)["f1"] == 0.0
    with pytest.raises(ValueError, match="exactly one"):
        point_detection_scores([(1, 1)], radius=3)
    with pytest.raises(ValueError, match="both"):
        point_detection_scores([(1, 1)], pred_centroids=[(1, 1)], radius=3, point_classes=[1])
