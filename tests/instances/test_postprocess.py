"""Watershed post-processing: from probabilities to instance labels."""

from __future__ import annotations

import numpy as np
import pytest
from test_targets import _touching_grid

from segkit.evaluation import aggregated_jaccard_index, f1_at_iou
from segkit.instances import (
    connected_components,
    labels_from_mask,
    labels_from_probabilities,
    make_boundary_target,
    relabel,
)


def _two_touching_discs() -> np.ndarray:
    rr, cc = np.ogrid[:40, :60]
    labels = np.zeros((40, 60), dtype=np.uint16)
    labels[(rr - 20) ** 2 + (cc - 20) ** 2 < 100] = 1
    labels[((rr - 20) ** 2 + (cc - 37) ** 2 < 100) & (labels == 0)] = 2
    return labels


def _one_hot(target: np.ndarray, k: int = 3) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[target]


def test_connected_components_merges_touching_nuclei_and_labels_1_to_n():
    labels = connected_components(_two_touching_discs() > 0)
    assert labels.dtype == np.uint16
    assert labels.max() == 1
    mask = np.zeros((9, 9), bool)
    mask[1:3, 1:3] = mask[5:8, 5:8] = True
    mask[0, 8] = True  # one pixel: dropped by min_area
    assert np.unique(connected_components(mask, min_area=2)).tolist() == [0, 1, 2]


def test_distance_watershed_splits_two_touching_discs():
    truth = _two_touching_discs()
    labels = labels_from_mask(truth > 0)
    assert labels.max() == 2
    assert f1_at_iou(truth, labels)["f1"] == 1.0
    assert aggregated_jaccard_index(truth, labels) > 0.9


def test_a_small_object_without_a_marker_is_kept_whole():
    mask = np.zeros((20, 20), bool)
    mask[5:8, 5:8] = True  # distance peak 2 < h: no h-maximum, still one object
    labels = labels_from_mask(mask, h=5, min_area=1)
    assert labels.max() == 1 and (labels > 0).sum() == 9


def test_three_class_probabilities_recover_touching_nuclei():
    truth = _touching_grid(256)
    probs = _one_hot(make_boundary_target(truth, width=2))
    labels = labels_from_probabilities(probs, min_area=1)
    assert f1_at_iou(truth, labels)["f1"] == 1.0
    assert aggregated_jaccard_index(truth, labels) > 0.97
    # the same map read as a plain foreground mask merges far more
    naive = connected_components(truth > 0)
    assert f1_at_iou(truth, naive)["f1"] < 0.9


def test_foreground_layouts_agree():
    truth = _two_touching_discs()
    fg = (truth > 0).astype(np.float32)
    sigmoid = labels_from_probabilities(fg)
    np.testing.assert_array_equal(sigmoid, labels_from_probabilities(fg[..., None]))
    np.testing.assert_array_equal(sigmoid, labels_from_probabilities(np.stack([1 - fg, fg], -1)))
    with pytest.raises(ValueError, match="1 - probs"):
        labels_from_probabilities(np.zeros((4, 4, 5)))


def test_small_objects_are_removed_and_holes_filled():
    probs = np.zeros((30, 30, 3), dtype=np.float32)
    probs[..., 0] = 1
    ring = np.zeros((30, 30), bool)
    ring[5:20, 5:20] = True
    ring[11:13, 11:13] = False  # a hole in the nucleus
    probs[ring] = [0, 1, 0]
    probs[25:27, 25:27] = [0, 1, 0]  # 4 px: below min_area
    labels = labels_from_probabilities(probs, min_area=10)
    assert labels.max() == 1
    assert (labels[5:20, 5:20] == 1).all()


def test_relabel_is_sequential_and_widens_past_65535():
    labels = np.array([[0, 7, 7], [3, 0, 90]])
    np.testing.assert_array_equal(relabel(labels), [[0, 2, 2], [1, 0, 3]])
    np.testing.assert_array_equal(relabel(labels, min_area=2), [[0, 1, 1], [0, 0, 0]])
    sparse = np.array([[0, 10**12], [5, 5]], dtype=np.int64)
    np.testing.assert_array_equal(relabel(sparse), [[0, 2], [1, 1]])
    many = np.arange(1, 70_001, dtype=np.int64).reshape(350, 200)
    out = relabel(many)
    assert out.dtype == np.uint32 and out.max() == 70_000
    assert relabel(np.zeros((2, 2), int)).dtype == np.uint16


def test_empty_probabilities_give_no_instances():
    assert labels_from_probabilities(np.zeros((8, 8))).max() == 0
    assert labels_from_probabilities(_one_hot(np.zeros((8, 8), int))).max() == 0


def test_the_smallest_nucleus_is_10_square_microns_where_the_pixel_size_is_known():
    from segkit.instances import DEFAULT_MIN_AREA, DEFAULT_MIN_AREA_UM2, min_area_pixels
    from segkit.instances.predict import image_pixel_um
    from segkit.models import ModelInfo

    assert DEFAULT_MIN_AREA_UM2 == 10.0
    assert min_area_pixels(0.25) == 160  # 10 / 0.0625
    assert min_area_pixels((0.5, 0.25)) == 80
    assert min_area_pixels(0.4, 9.6) == 60  # exact multiples are not rounded up
    assert min_area_pixels(None) == DEFAULT_MIN_AREA == 10  # unknown scale: pixels
    assert min_area_pixels(100.0) == 1
    with pytest.raises(ValueError, match="> 0"):
        min_area_pixels(0.0)
    # a raw image's pixel: the model's mpp over the scale that brings the image to it
    info = ModelInfo(input_shape=(None, None, 3), num_classes=2, mpp=0.4).at_mpp(0.25)
    assert image_pixel_um(info) == pytest.approx((0.25, 0.25))
    assert image_pixel_um(ModelInfo(input_shape=(None, None, 3), num_classes=2)) is None
