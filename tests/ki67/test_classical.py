"""The model-free nucleus detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segkit.ki67.classical import ClassicalConfig, detect_nuclei


def test_separate_discs_are_found_with_their_areas(discs):
    image, truth = discs([(20, 20, 8, 0.5, 0.0), (20, 60, 8, 0.3, 0.5), (60, 40, 10, 0.4, 0.2)])
    labels = detect_nuclei(image, ClassicalConfig(mpp=0.5))
    assert labels.max() == 3 and labels.dtype == np.int32
    for k in (1, 2, 3):
        found = np.unique(labels[truth == k])
        found = found[found > 0]
        assert len(found) == 1
        area = np.count_nonzero(labels == found[0])
        assert area == pytest.approx(np.count_nonzero(truth == k), rel=0.25)  # smoothed edges


def test_touching_nuclei_are_split_by_the_watershed(discs):
    image, truth = discs([(30, 30, 10, 0.5, 0.0), (30, 47, 10, 0.5, 0.0)], shape=(60, 80))
    assert np.count_nonzero((truth > 0)[30, 30:48]) == 18  # one blob without a gap
    split = detect_nuclei(image, ClassicalConfig(mpp=0.5, sigma_um=0.0, split_distance_um=3.0))
    assert split.max() == 2
    merged = detect_nuclei(image, ClassicalConfig(mpp=0.5, sigma_um=0.0, split_distance_um=0.0))
    assert merged.max() == 1


def test_area_limits_remove_small_and_large_objects(discs):
    image, _ = discs([(15, 15, 2, 0.6, 0.0), (50, 50, 9, 0.6, 0.0)], shape=(80, 80))
    # radius 2 at 0.5 µm/px: ~13 px = 3 µm²; radius 9: ~250 px = 63 µm²
    labels = detect_nuclei(image, ClassicalConfig(mpp=0.5, sigma_um=0.0, min_area_um2=10))
    assert labels.max() == 1 and labels[50, 50] == 1
    labels = detect_nuclei(
        image, ClassicalConfig(mpp=0.5, sigma_um=0.0, min_area_um2=1, max_area_um2=20)
    )
    assert labels.max() == 1 and labels[15, 15] == 1


def test_fixed_threshold_and_signal_choice(discs):
    image, _ = discs([(20, 20, 8, 0.5, 0.0), (20, 60, 8, 0.0, 0.5)])
    both = detect_nuclei(image, ClassicalConfig(mpp=0.5, threshold=0.2))
    assert both.max() == 2
    dab_only = detect_nuclei(image, ClassicalConfig(mpp=0.5, threshold=0.2, signal=("DAB",)))
    assert dab_only.max() == 1 and dab_only[20, 60] == 1
    assert detect_nuclei(np.full((40, 40, 3), 255, np.uint8)).max() == 0


def test_config_json_round_trip_and_validation():
    cfg = ClassicalConfig(mpp=0.5, threshold=0.15, signal=("Hematoxylin",))
    assert ClassicalConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(ClassicalConfig().to_json())["threshold"] == "otsu"
    assert ClassicalConfig().px(2.5) == pytest.approx(10.0)
    for changes, field in [
        ({"mpp": 0}, "mpp"),
        ({"threshold": "mean"}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"signal": "DAB"}, "signal"),
        ({"min_area_um2": 50, "max_area_um2": 40}, "max_area_um2"),
        ({"sigma_um": float("nan")}, "sigma_um"),
    ]:
        with pytest.raises(ValueError, match=f"classical detector field '{field}'"):
            ClassicalConfig(**changes)
    with pytest.raises(ValueError, match="'radius'"):
        ClassicalConfig.from_dict({"radius": 3})
