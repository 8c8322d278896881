"""The names a nucleus's measurements carry in QuPath, for the GeoJSON detections segkit writes.

QuPath's own cell detection names its nucleus measurements ``"Nucleus: DAB OD mean"``,
``"Nucleus: Area µm^2"`` and so on; segkit's detections carry the same names, so a QuPath
script or command written for QuPath's detections works on segkit's unchanged, e.g.
``setDetectionIntensityClassifications("Nucleus: DAB OD mean", 0.2, 0.4, 0.6)``, and the
measurement table shows familiar columns. The OD values are optical densities (log10), as in
QuPath. ``cells.csv`` keeps the short column names of :class:`segkit.ki67.NucleusTable`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["QUPATH_NAMES", "qupath_measurements"]

#: segkit's column -> QuPath's measurement name.
QUPATH_NAMES: dict[str, str] = {
    "area": "Nucleus: Area px^2",
    "area_um2": "Nucleus: Area µm^2",
    "hematoxylin_od_mean": "Nucleus: Hematoxylin OD mean",
    "dab_od_mean": "Nucleus: DAB OD mean",
    "dab_od_max": "Nucleus: DAB OD max",
    "bin": "Nucleus: DAB intensity bin (0-3)",
}


def qupath_measurements(values: Mapping[str, float]) -> dict[str, float]:
    """``{QuPath name: value}`` of the columns of :data:`QUPATH_NAMES` that ``values`` has.

    Other columns (the centroid, which QuPath takes from the outline) are left out, and so are
    values that are not finite (an area in µm² without a known pixel size), which GeoJSON
    cannot carry.
    """
    out = {}
    for column, name in QUPATH_NAMES.items():
        if column in values and math.isfinite(float(values[column])):
            out[name] = float(values[column])
    return out
