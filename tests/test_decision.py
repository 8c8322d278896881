import numpy as np
import pytest

from segkit.decision import (
    ops_one_hot_mask,
    ops_probabilities_to_mask,
    probabilities_to_mask,
)
from segkit.evaluation import dice_score
from segkit.metrics import Dice
from segkit.training.distributed import per_image_dice


def test_binary_foreground_includes_the_threshold_itself():
    probs = np.array([[[0.49], [0.5], [0.51]]], dtype=np.float32)
    assert probabilities_to_mask(probs, threshold=0.5).tolist() == [[0, 1, 1]]
    assert probabilities_to_mask(probs, threshold=0.51).tolist() == [[0, 0, 1]]
    mask = probabilities_to_mask(probs)
    assert mask.dtype == np.uint8 and mask.shape == (1, 3)


def test_multiclass_takes_the_most_probable_class():
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.2, 0.7]], dtype=np.float32)
    assert probabilities_to_mask(probs, threshold=0.99).tolist() == [1, 0, 2]


def test_probabilities_without_a_class_axis_are_refused():
    with pytest.raises(ValueError, match=r"shape \(\).*\(\.\.\., C\)"):
        probabilities_to_mask(np.float32(0.5))
    with pytest.raises(ValueError, match="1 <= C <= 256"):
        probabilities_to_mask(np.zeros((2, 0)))


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.25])
@pytest.mark.parametrize("channels", [1, 3])
def test_numpy_and_keras_ops_draw_the_same_mask(threshold, channels):
    rng = np.random.default_rng(channels)
    probs = rng.random((2, 8, 8, channels), dtype=np.float32)
    if channels == 1:
        probs[0, :4] = np.float32(threshold)  # exactly at the threshold (in float32)
    else:
        probs /= probs.sum(axis=-1, keepdims=True)
    expected = probabilities_to_mask(probs, threshold=threshold)
    mask = np.asarray(ops_probabilities_to_mask(probs, threshold=threshold))
    np.testing.assert_array_equal(mask, expected)
    one_hot = np.asarray(ops_one_hot_mask(probs, threshold=threshold))
    assert one_hot.shape == probs.shape and one_hot.dtype == np.float32
    if channels == 1:
        np.testing.assert_array_equal(one_hot[..., 0], expected)
    else:
        np.testing.assert_array_equal(one_hot.argmax(-1), expected)
        np.testing.assert_array_equal(one_hot.sum(-1), 1.0)


def test_every_dice_counts_a_probability_at_the_threshold_as_foreground():
    """The Keras metric, the NumPy score after the decision and the distributed loop agree."""
    truth = np.zeros((3, 8, 8), dtype=np.uint8)
    truth[0, 2:6, 2:6] = 1
    truth[1, :4] = 1
    probs = np.full((3, 8, 8, 1), 0.25, dtype=np.float32)
    probs[0, 2:6, 2:6] = 0.5  # exactly at the threshold: the whole object
    probs[1, :2] = 0.5  # half of the object at the threshold, half below it
    probs[2, 0, 0] = 0.5  # empty truth, one pixel at the threshold
    expected = [1.0, 2 * 16 / (32 + 16), 0.0]

    metric = Dice(2, threshold=0.5)
    metric.update_state(truth, probs)
    keras_dice = float(metric.result())
    masks = probabilities_to_mask(probs, threshold=0.5)
    numpy_dice = [dice_score(t, m) for t, m in zip(truth, masks)]
    loop_dice = np.asarray(per_image_dice(truth, probs, 2, threshold=0.5))

    assert numpy_dice == pytest.approx(expected)
    np.testing.assert_allclose(loop_dice, expected, rtol=1e-6)
    assert keras_dice == pytest.approx(np.mean(expected))
