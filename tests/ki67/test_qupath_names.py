"""Measurement names of segkit's QuPath detections."""

from __future__ import annotations

import math

from segkit.ki67.qupath_names import QUPATH_NAMES, qupath_measurements


def test_columns_get_quPaths_names_and_only_finite_values_travel():
    values = {"x": 3.5, "y": 1.0, "area": 40, "area_um2": math.nan, "dab_od_mean": 0.31,
              "dab_od_max": 0.8, "hematoxylin_od_mean": 0.12, "bin": 1}  # fmt: skip
    assert qupath_measurements(values) == {
        "Nucleus: Area px^2": 40.0,
        "Nucleus: DAB OD mean": 0.31,
        "Nucleus: DAB OD max": 0.8,
        "Nucleus: Hematoxylin OD mean": 0.12,
        "Nucleus: DAB intensity bin (0-3)": 1.0,
    }  # no centroid (QuPath takes it from the outline), no NaN area in µm²
    assert qupath_measurements({**values, "area_um2": 10.0})["Nucleus: Area µm^2"] == 10.0
    assert all(name.startswith("Nucleus: ") for name in QUPATH_NAMES.values())
