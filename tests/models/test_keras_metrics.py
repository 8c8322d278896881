import numpy as np
import pytest

from segkit.metrics import Dice, IoU, get_metrics


def test_dice_and_iou_on_known_masks():
    truth = np.zeros((1, 4, 4), dtype="uint8")
    truth[0, :2] = 1  # 8 pixels
    pred = np.zeros((1, 4, 4, 1), dtype="float32")
    pred[0, 1:3] = 0.9  # 8 pixels, 4 shared
    dice, iou = get_metrics(2)
    dice.update_state(truth, pred)
    iou.update_state(truth, pred)
    assert float(dice.result()) == pytest.approx(0.5)
    assert float(iou.result()) == pytest.approx(4 / 12)
    assert (dice.name, iou.name) == ("dice", "iou")


def test_empty_rule_and_mean_over_images():
    truth = np.zeros((2, 4, 4), dtype="uint8")
    pred = np.zeros((2, 4, 4, 1), dtype="float32")
    pred[1] = 1.0  # image 0: empty vs empty = 1; image 1: empty truth, full prediction = 0
    metric = Dice(2)
    metric.update_state(truth[:1], pred[:1])
    assert float(metric.result()) == pytest.approx(1.0)
    metric.update_state(truth[1:], pred[1:])
    assert float(metric.result()) == pytest.approx(0.5)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_multiclass_uses_argmax_and_averages_foreground_classes():
    truth = np.array([[[0, 1], [2, 2]]], dtype="uint8")
    probs = np.eye(3, dtype="float32")[np.array([[[0, 1], [2, 1]]])]
    metric = IoU(3)
    metric.update_state(truth, probs)
    # class 1: |{(0,1)}| / |{(0,1),(1,1)}| = 1/2; class 2: 1/2
    assert float(metric.result()) == pytest.approx(0.5)


def test_config_round_trip():
    metric = Dice(3, threshold=0.3)
    clone = Dice.from_config(metric.get_config())
    assert (clone.num_classes, clone.threshold, clone.name) == (3, 0.3, "dice")
