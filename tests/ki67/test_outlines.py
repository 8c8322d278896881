"""Nucleus polygons for the GeoJSON writer."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.ki67.classify import ThresholdClassifier
from segkit.ki67.measure import measure_nuclei
from segkit.ki67.outlines import nucleus_features, nucleus_outlines, polygon_area


def test_outline_is_closed_in_pixel_coordinates_with_the_nucleus_area(discs):
    _, labels = discs([(30, 50, 12, 0.4, 0.1), (70, 20, 6, 0.4, 0.5)], shape=(90, 90), ids=[5, 2])
    outlines = nucleus_outlines(labels)
    assert sorted(outlines) == [2, 5]
    for k, (row, col) in ((5, (30, 50)), (2, (70, 20))):
        poly = outlines[k]
        assert poly[0] == poly[-1]
        xy = np.asarray(poly)
        # pixel (r, c) spans [c, c + 1] x [r, r + 1]: the disc's centre is (col + 0.5, row + 0.5)
        assert xy[:-1, 0].mean() == pytest.approx(col + 0.5, abs=0.3)
        assert xy[:-1, 1].mean() == pytest.approx(row + 0.5, abs=0.3)
        area = np.count_nonzero(labels == k)
        assert polygon_area(poly) == pytest.approx(area, rel=0.12)
        assert polygon_area(poly) < area  # corners are cut diagonally


def test_outlines_of_nuclei_at_the_image_border_and_selected_ids():
    labels = np.zeros((10, 10), np.int32)
    labels[:4, :4] = 1
    labels[6:, 6:] = 3
    outlines = nucleus_outlines(labels, ids=[1, 9])
    assert list(outlines) == [1]
    xy = np.asarray(outlines[1])
    assert xy.min() == pytest.approx(0.0) and xy.max() == pytest.approx(4.0)  # pixel edges
    assert polygon_area(outlines[1]) == pytest.approx(16 - 4 / 8)  # four corners cut


def test_features_carry_class_bin_outline_and_measurements(four_nuclei):
    image, labels = four_nuclei
    table = measure_nuclei(image, labels)
    classes = ThresholdClassifier().classify(table, labels)
    features = nucleus_features(labels, table, classes)
    assert [f["id"] for f in features] == [1, 2, 3, 4]
    assert [f["class"] for f in features] == ["Negative", "Positive", "Positive", "Positive"]
    assert [f["bin"] for f in features] == [0, 1, 2, 3]
    assert features[3]["measurements"]["dab_od_mean"] == pytest.approx(0.7, abs=0.02)
    assert "id" not in features[0]["measurements"]
    assert all(isinstance(p, tuple) and len(p) == 2 for p in features[0]["outline"])
