"""Annotation files: QuPath GeoJSON, Aperio ImageScope XML, Labelbox, point lists.

Readers return :class:`Annotation` objects in pixel coordinates (x = column, y = row, QuPath's
pixel-corner convention); :func:`rasterize_instances` and :func:`rasterize_classes` turn
polygons into label images; :func:`write_qupath_geojson` writes detections QuPath imports.
See ``docs/annotations.md``.
"""

from __future__ import annotations

from segkit.annotations.aperio_xml import AperioAnnotations, read_aperio_xml
from segkit.annotations.formats import read_annotations
from segkit.annotations.geometry import (
    Annotation,
    AnnotationError,
    MultiPolygon,
    Points,
    PointSet,
    Polygon,
    point_set,
)
from segkit.annotations.labelbox import read_labelbox
from segkit.annotations.points import SHIDC_LABELS, read_points
from segkit.annotations.qupath_geojson import read_qupath_geojson, write_qupath_geojson
from segkit.annotations.rasterize import find_degenerate, rasterize_classes, rasterize_instances

__all__ = [
    "Annotation",
    "AnnotationError",
    "AperioAnnotations",
    "MultiPolygon",
    "PointSet",
    "Points",
    "Polygon",
    "SHIDC_LABELS",
    "find_degenerate",
    "point_set",
    "rasterize_classes",
    "rasterize_instances",
    "read_annotations",
    "read_aperio_xml",
    "read_labelbox",
    "read_points",
    "read_qupath_geojson",
    "write_qupath_geojson",
]
