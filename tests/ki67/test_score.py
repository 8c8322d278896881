"""Scoring whole images: from labels, and with the classical detector."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.ki67 import LearnedClassifier, score_ki67_classical, score_ki67_labels
from segkit.ki67.classical import ClassicalConfig
from segkit.ki67.summary import wilson_interval


def test_score_from_labels_counts_index_bins_and_h_score(four_nuclei):
    image, labels = four_nuclei
    s = score_ki67_labels(image, labels, mpp=0.5)
    assert s.classification.classes.tolist() == ["Negative", "Positive", "Positive", "Positive"]
    summary = s.summary
    assert (summary.positive, summary.negative, summary.total) == (3, 1, 4)
    assert summary.ki67_index == pytest.approx(75.0)
    assert (summary.bin_1plus, summary.bin_2plus, summary.bin_3plus) == (1, 1, 1)
    assert summary.h_score == pytest.approx(1 * 25 + 2 * 25 + 3 * 25)  # 150
    low, high = wilson_interval(3, 4)
    assert summary.ki67_ci_low == pytest.approx(100 * low)
    assert "fewer than 500" in summary.warning
    assert s.measurements.area_um2[0] == pytest.approx(s.measurements.area[0] * 0.25)


def test_score_with_a_learned_classifier(four_nuclei):
    image, labels = four_nuclei
    class_map = np.where(labels == 1, 2, np.where(labels > 0, 1, 0))
    s = score_ki67_labels(image, labels, classifier=LearnedClassifier(class_map))
    assert s.classification.classes.tolist() == ["Positive", "Negative", "Negative", "Negative"]
    assert s.summary.ki67_index == pytest.approx(25.0)


def test_empty_image_scores_zero_without_nan():
    image = np.full((32, 32, 3), 255, np.uint8)
    s = score_ki67_labels(image, np.zeros((32, 32), np.int32))
    assert s.summary.total == 0 and s.summary.ki67_index == 0.0
    assert "no tumour cells" in s.summary.warning
    c = score_ki67_classical(image)
    assert c.summary.total == 0 and c.labels.max() == 0


def test_classical_scoring_finds_the_four_nuclei(four_nuclei):
    image, _ = four_nuclei
    s = score_ki67_classical(image, config=ClassicalConfig(mpp=0.5, sigma_um=0.0))
    assert s.summary.total == 4
    assert sorted(s.classification.bins.tolist()) == [0, 1, 2, 3]
    assert s.summary.ki67_index == pytest.approx(75.0)


def test_unknown_classifier_name(four_nuclei):
    image, labels = four_nuclei
    with pytest.raises(ValueError, match="unknown classifier"):
        score_ki67_labels(image, labels, classifier="svm")
