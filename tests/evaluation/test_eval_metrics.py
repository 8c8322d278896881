import numpy as np
import pytest

from segkit.evaluation import (
    dice_score,
    iou_score,
    match_objects,
    object_scores,
    overlap_scores,
    precision_score,
    recall_score,
)


def _masks():
    truth = np.zeros((4, 4), dtype=np.uint8)
    truth[:2] = 1  # 8 pixels
    pred = np.zeros((4, 4), dtype=np.uint8)
    pred[1:3] = 255  # 8 pixels, 4 shared (any non-zero value is foreground)
    return truth, pred


def test_pixel_scores_on_known_masks():
    truth, pred = _masks()
    assert dice_score(truth, pred) == pytest.approx(0.5)
    assert iou_score(truth, pred) == pytest.approx(4 / 12)
    assert precision_score(truth, pred) == pytest.approx(0.5)
    pred[0, 0] = 1  # one more true positive: precision 5/9, recall 5/8
    assert precision_score(truth, pred) == pytest.approx(5 / 9)
    assert recall_score(truth, pred) == pytest.approx(5 / 8)


def test_empty_rule():
    empty = np.zeros((5, 5), dtype=np.uint8)
    full = np.ones((5, 5), dtype=np.uint8)
    for score in (dice_score, iou_score, precision_score, recall_score):
        assert score(empty, empty) == 1.0
        assert score(empty, full) == 0.0
        assert score(full, empty) == 0.0
    assert object_scores(empty, empty)["object_f1"] == 1.0
    assert object_scores(empty, full)["object_precision"] == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        dice_score(np.zeros((2, 2)), np.zeros((2, 3)))


def test_multiclass_scores_average_foreground_classes():
    truth = np.array([[0, 1], [2, 2]], dtype=np.uint8)
    pred = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    scores = overlap_scores(truth, pred, 3, class_names=("bg", "neg", "pos"))
    assert scores["dice_neg"] == pytest.approx(2 / 3)
    assert scores["dice_pos"] == pytest.approx(2 / 3)
    assert scores["iou"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx((1.0 + 0.5) / 2)


def test_objects_match_one_to_one_at_iou_half():
    truth = np.zeros((20, 20), dtype=np.uint8)
    truth[1:5, 1:5] = 1  # A: found exactly
    truth[10:14, 1:5] = 1  # B: found with a quarter of it (IoU 0.25)
    truth[1:5, 10:14] = 1  # C: missed
    pred = np.zeros_like(truth)
    pred[1:5, 1:5] = 1
    pred[10:12, 1:3] = 1
    pred[15:19, 15:19] = 1  # a false object
    assert match_objects(truth, pred) == (1, 2, 2)
    scores = object_scores(truth, pred)
    assert scores["object_precision"] == pytest.approx(1 / 3)
    assert scores["object_recall"] == pytest.approx(1 / 3)
    assert scores["object_f1"] == pytest.approx(1 / 3)
    assert match_objects(truth, pred, iou_threshold=0.2) == (2, 1, 1)


def test_a_merged_prediction_matches_at_most_one_object():
    truth = np.zeros((10, 20), dtype=np.uint8)
    truth[2:8, 2:9] = 1
    truth[2:8, 11:18] = 1
    pred = np.zeros_like(truth)
    pred[2:8, 2:18] = 1  # covers both and the gap: IoU 42/96 each, below 0.5
    assert match_objects(truth, pred) == (0, 1, 2)
    pred[:] = 0
    pred[2:8, 2:11] = 1  # the first object and the gap: IoU 42/54
    assert match_objects(truth, pred) == (1, 0, 1)
