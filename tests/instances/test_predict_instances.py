"""predict_instances on a full image with tiles, and save_instances."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.evaluation import match_instances
from segkit.inference.tiling import tile_grid
from segkit.instances import (
    BOUNDARY_CLASS_NAMES,
    instances_path,
    make_boundary_target,
    predict_instances,
    save_instances,
)
from segkit.models import ModelInfo

SHAPE, TILE = (200, 200), 64


@pytest.fixture(scope="module")
def three_class():
    """Pixel value 0 -> background, 128 -> boundary, 255 -> interior (softmax, no context)."""
    import keras

    inputs = keras.Input((None, None, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(3, 1, activation="softmax")
    outputs = conv(x)
    # logits: background 0; interior 80 v - 40; boundary 40 v - 10 (v = value / 255)
    conv.set_weights([np.array([0.0, 80.0, 40.0]).reshape(1, 1, 1, 3), np.array([0, -40, -10.0])])
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def sigmoid():
    """Foreground probability = pixel value / 255."""
    import keras

    inputs = keras.Input((None, None, 1))
    return keras.Model(inputs, keras.layers.Rescaling(1 / 255)(inputs))


def _nuclei_on_seams() -> np.ndarray:
    """Nuclei centred on the tile edges of a 64-pixel grid, some of them touching pairs."""
    starts = sorted({r for r, _ in tile_grid(SHAPE, (TILE, TILE), 0.25)})
    rows = [s for s in starts if s > 0]  # where a tile begins
    cols = [s + TILE for s in starts if s + TILE < SHAPE[1]]  # where a tile ends
    rr, cc = np.ogrid[: SHAPE[0], : SHAPE[1]]
    labels = np.zeros(SHAPE, dtype=np.uint16)
    k = 0
    for i, y in enumerate(rows):
        for j, x in enumerate(cols):
            centres = [(y, x - 7), (y, x + 7)] if (i + j) % 2 else [(y, x)]
            # each pixel of overlapping discs goes to the nearer centre
            d2 = np.stack([(rr - cy) ** 2 + (cc - cx) ** 2 for cy, cx in centres])
            inside = d2.min(axis=0) < 64
            labels[inside] = k + 1 + np.argmin(d2, axis=0)[inside]
            k += len(centres)
    return labels


def _check_each_nucleus_once(truth: np.ndarray, labels: np.ndarray) -> None:
    assert labels.shape == truth.shape and labels.dtype == np.uint16
    assert truth.max() >= 12
    m = match_instances(truth, labels, iou_threshold=0.5)
    assert (m.fp, m.fn) == (0, 0), "a nucleus was lost, split or counted twice"
    true_area = np.bincount(truth.ravel())[m.true_ids]
    pred_area = np.bincount(labels.ravel())[m.pred_ids]
    np.testing.assert_allclose(pred_area, true_area, rtol=0.10)


def test_boundary_model_finds_each_nucleus_on_tile_seams_once(three_class):
    truth = _nuclei_on_seams()
    target = make_boundary_target(truth, width=2)
    image = np.choose(target, [0, 255, 128]).astype(np.uint8)
    info = ModelInfo((None, None, 1), 3, class_names=BOUNDARY_CLASS_NAMES, color_model="grayscale")
    labels = predict_instances(three_class, image, info=info, tile_size=TILE, min_area=5)
    _check_each_nucleus_once(truth, labels)


def test_sigmoid_model_is_split_by_the_distance_watershed(sigmoid):
    truth = _nuclei_on_seams()
    image = np.where(truth > 0, 255, 0).astype(np.uint8)
    labels = predict_instances(sigmoid, image, tile_size=TILE, min_area=5)
    _check_each_nucleus_once(truth, labels)


def test_three_channels_without_boundary_names_use_the_foreground(three_class):
    truth = _nuclei_on_seams()
    image = np.where(truth > 0, 255, 0).astype(np.uint8)  # all interior, touching pairs merge
    info = ModelInfo((None, None, 1), 3, color_model="grayscale")  # class1, class2
    labels = predict_instances(three_class, image, info=info, tile_size=TILE, min_area=5)
    _check_each_nucleus_once(truth, labels)


def test_save_instances_round_trip(tmp_path):
    import tifffile

    labels = _nuclei_on_seams()
    path = save_instances(instances_path(tmp_path, "slide 1.png"), labels)
    assert path.name == "slide 1_instances.tif"
    back = tifffile.imread(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, labels)
    wide = np.array([[0, 70_000]], dtype=np.int64)
    back = tifffile.imread(save_instances(tmp_path / "wide.tif", wide))
    assert back.dtype == np.uint32 and back.max() == 70_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slide 1_instances.tif", "wide.tif"]


def test_save_instances_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(ValueError, match=r"\.tif"):
        save_instances(tmp_path / "x.png", np.zeros((2, 2), np.uint16))
    with pytest.raises(ValueError, match="integer"):
        save_instances(tmp_path / "x.tif", np.zeros((2, 2)))
    assert not list(tmp_path.iterdir())
