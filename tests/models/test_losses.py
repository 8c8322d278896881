import numpy as np
import pytest

from segkit.losses import LOSS_NAMES, get_loss


def _binary(values):
    return np.asarray(values, dtype="float32")[None, ..., None]


def test_dice_loss_values_on_known_masks():
    loss = get_loss("dice", 2)
    truth = np.zeros((1, 4, 4), dtype="uint8")
    truth[0, :2] = 1  # 8 pixels
    perfect = _binary(truth[0])
    assert float(loss(truth, perfect)) == pytest.approx(0.0, abs=1e-6)
    half = np.zeros((1, 4, 4, 1), dtype="float32")
    half[0, :1] = 1.0  # 4 of the 8 pixels: dice = (2*4 + 1) / (8 + 4 + 1)
    assert float(loss(truth, half)) == pytest.approx(1 - 9 / 13, abs=1e-6)


def test_empty_truth_empty_prediction_is_perfect_and_full_prediction_is_not():
    loss = get_loss("dice", 2)
    empty = np.zeros((1, 8, 8), dtype="uint8")
    assert float(loss(empty, np.zeros((1, 8, 8, 1), "float32"))) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(empty, np.ones((1, 8, 8, 1), "float32"))) > 0.95


def test_bce_matches_the_formula_and_accepts_a_channel_axis():
    loss = get_loss("bce", 2)
    truth = np.array([[[1, 0]]], dtype="uint8")
    pred = np.array([[[[0.8], [0.3]]]], dtype="float32")
    expected = -(np.log(0.8) + np.log(0.7)) / 2
    assert float(loss(truth, pred)) == pytest.approx(expected, rel=1e-5)
    assert float(loss(truth[..., None], pred)) == pytest.approx(expected, rel=1e-5)


def test_focal_is_below_bce_for_confident_correct_pixels():
    truth = np.array([[[1, 0, 1, 0]]], dtype="uint8")
    pred = np.array([[[[0.9], [0.1], [0.95], [0.05]]]], dtype="float32")
    assert float(get_loss("focal", 2)(truth, pred)) < 0.1 * float(get_loss("bce", 2)(truth, pred))


def test_multiclass_losses_use_class_indices():
    truth = np.array([[[0, 1], [2, 2]]], dtype="uint8")
    onehot = np.eye(3, dtype="float32")[truth]
    wrong = np.eye(3, dtype="float32")[(truth + 1) % 3]
    for name in ("ce", "ce_dice", "dice", "focal"):
        loss = get_loss(name, 3)
        good = float(loss(truth, np.clip(onehot, 0.01, 0.98)))
        bad = float(loss(truth, np.clip(wrong, 0.01, 0.98)))
        assert good < bad, name
    ce = float(get_loss("ce", 3)(truth, np.full((1, 2, 2, 3), 1 / 3, "float32")))
    assert ce == pytest.approx(np.log(3), rel=1e-5)


def test_bce_dice_is_the_sum_of_its_parts():
    rng = np.random.default_rng(0)
    truth = (rng.random((2, 8, 8)) > 0.5).astype("uint8")
    pred = rng.random((2, 8, 8, 1)).astype("float32")
    total = float(get_loss("bce_dice", 2)(truth, pred))
    parts = float(get_loss("bce", 2)(truth, pred)) + float(get_loss("dice", 2)(truth, pred))
    assert total == pytest.approx(parts, rel=1e-5)


def test_unknown_loss_lists_the_names():
    with pytest.raises(ValueError, match="dice"):
        get_loss("hinge", 2)
    assert set(LOSS_NAMES) >= {"bce", "dice", "bce_dice", "focal", "ce_dice"}


@pytest.mark.parametrize("num_classes", [2, 3])
def test_losses_and_metrics_train_inside_fit_with_either_mask_rank(num_classes):
    from segkit.metrics import get_metrics
    from segkit.models import build_unet

    model = build_unet((16, 16, 1), num_classes, depth=1, base_filters=2)
    model.compile("adam", get_loss("ce_dice", num_classes), metrics=get_metrics(num_classes))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 16, 16, 1)).astype("float32")
    y = rng.integers(0, num_classes, (4, 16, 16)).astype("uint8")
    for target in (y, y[..., None]):  # the second call retraces with a relaxed shape
        history = model.fit(x, target, epochs=1, batch_size=2, verbose=0).history
        assert np.isfinite(history["loss"][0])
        assert 0.0 <= history["dice"][0] <= 1.0
