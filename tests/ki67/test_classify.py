"""The classifier registry: QuPath's threshold rule and the learned majority vote."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.ki67.classify import (
    CLASSIFIERS,
    LearnedClassifier,
    ThresholdClassifier,
    intensity_bins,
    make_classifier,
    register_classifier,
)
from segkit.ki67.measure import NucleusTable, measure_nuclei


def _table(dab):
    dab = np.asarray(dab, dtype=np.float64)
    n = len(dab)
    z = np.zeros(n)
    return NucleusTable(np.arange(1, n + 1), z, z, z.astype(int), z, dab, dab, z)


def test_threshold_is_inclusive_as_in_qupath():
    t = _table([0.19999, 0.2, 0.39, 0.4, 0.6, 2.0, -0.1])
    c = ThresholdClassifier().classify(t, np.zeros((1, 1), np.int32))
    assert c.classes.tolist() == ["Negative"] + ["Positive"] * 5 + ["Negative"]
    assert c.bins.tolist() == [0, 1, 1, 2, 3, 3, 0]


def test_threshold_and_bins_are_configurable():
    t = _table([0.15, 0.25, 0.35])
    c = make_classifier("threshold", threshold=0.1, bins=(0.2, 0.3, 0.5)).classify(t, None)
    assert c.classes.tolist() == ["Positive"] * 3
    assert c.bins.tolist() == [1, 1, 2]  # a Positive below the first bin counts 1+
    c = ThresholdClassifier(threshold=0.3).classify(t, None)
    assert c.classes.tolist() == ["Negative", "Negative", "Positive"]
    assert c.bins.tolist() == [0, 0, 1]


def test_intensity_bins():
    assert intensity_bins([np.nan, 0.1, 0.2, 0.59, 0.6]).tolist() == [0, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="three increasing"):
        intensity_bins([0.1], (0.4, 0.2, 0.6))
    with pytest.raises(ValueError, match="three increasing"):
        ThresholdClassifier(bins=(0.2, 0.4))


def test_registry():
    assert set(CLASSIFIERS) >= {"threshold", "learned"}
    with pytest.raises(ValueError, match="unknown classifier 'svm'; expected one of"):
        make_classifier("svm")
    with pytest.raises(ValueError, match="already registered"):
        register_classifier("threshold")(ThresholdClassifier)


def test_learned_majority_vote(four_nuclei):
    image, labels = four_nuclei
    table = measure_nuclei(image, labels)
    class_map = np.zeros(labels.shape, np.int64)
    class_map[labels == 1] = 2  # the pale nucleus: the model says positive
    class_map[labels == 2] = 1
    class_map[labels == 3] = 1
    class_map[(labels == 3) & (np.arange(80)[None, :] < 20)] = 2  # a minority votes positive
    # nucleus 4: background only (the model missed it) -> Negative
    c = LearnedClassifier(class_map).classify(table, labels)
    assert c.classes.tolist() == ["Positive", "Negative", "Negative", "Negative"]
    assert c.bins.tolist() == [1, 0, 0, 0]  # a Positive is at least 1+


def test_learned_from_probabilities_and_ties(four_nuclei):
    image, labels = four_nuclei
    table = measure_nuclei(image, labels)
    probs = np.zeros((*labels.shape, 3), np.float32)
    probs[..., 0] = 1.0
    probs[labels > 0] = (0.1, 0.2, 0.7)
    c = make_classifier("learned", class_map=probs).classify(table, labels)
    assert c.classes.tolist() == ["Positive"] * 4
    assert c.bins.tolist() == [1, 1, 2, 3]  # intensity bins from the DAB OD


def test_learned_tie_is_negative():
    labels = np.array([[1, 1, 2, 2], [1, 1, 2, 2]], np.int32)
    classes = np.array([[1, 2, 0, 2], [0, 0, 1, 2]], np.int64)  # 1: 1 vs 1; 2: 2 vs 1
    table = measure_nuclei(np.full((2, 4, 3), 200, np.uint8), labels)
    c = LearnedClassifier(classes).classify(table, labels)
    assert c.classes.tolist() == ["Negative", "Positive"]


def test_learned_checks_its_input(four_nuclei):
    image, labels = four_nuclei
    table = measure_nuclei(image, labels)
    with pytest.raises(ValueError, match="class indices or"):
        LearnedClassifier(np.zeros(labels.shape, np.float32))
    with pytest.raises(ValueError, match="does not match"):
        LearnedClassifier(np.zeros((5, 5), np.int64)).classify(table, labels)
    with pytest.raises(ValueError, match="must differ"):
        LearnedClassifier(np.zeros((5, 5), np.int64), negative_class=2)
