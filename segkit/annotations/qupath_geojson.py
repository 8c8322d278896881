"""QuPath GeoJSON: read what QuPath exports, write detections that QuPath imports.

Read: a ``FeatureCollection``, a bare list of Features or a single Feature, as written by
QuPath 0.2 to 0.5 (``exportObjectsToGeoJson`` and *File > Export objects as GeoJSON*).
``Polygon``, ``MultiPolygon`` (with holes), ``Point``, ``MultiPoint`` and a
``GeometryCollection`` of these. The object type comes from ``properties.objectType``
(QuPath >= 0.3), ``properties.object_type``, or the 0.2-era ``"id": "PathDetectionObject"``;
without one QuPath makes an annotation, and so does this reader. The class comes from
``properties.classification``: ``{"name", "color": [r, g, b]}``, a derived class
``{"names": [...]}`` (joined with ``": "`` as QuPath shows it), the older
``{"name", "colorRGB": packed int, "parentClass": {...}}`` or a bare string. Measurements are
a ``{name: value}`` object or the older ``[{"name", "value"}]`` list; QuPath writes missing
values as ``NaN``, which is read as ``nan`` (``null`` too).

Write (:func:`write_qupath_geojson`): a FeatureCollection, one Feature per object with
``"type": "Feature"``, a UUID ``"id"``, a closed ring for each polygon, and
``properties.objectType``, ``properties.classification = {"name", "color": [r, g, b]}``
(QuPath refuses a classification object without a colour, so a class with no known colour is
an error, never written bare) and ``properties.measurements = {name: number}`` with finite
numbers only (non-finite ones are left out: plain JSON has no NaN, and QuPath reads a
missing measurement as NaN anyway). Features are streamed to a temporary file that replaces
the target only when all were written.
"""

from __future__ import annotations

import json
import math
import numbers
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from segkit.annotations._source import fail, load_json, number
from segkit.annotations.geometry import (
    Annotation,
    Geometry,
    MultiPolygon,
    ObjectType,
    Points,
    Polygon,
)
from segkit.files import atomic_path
from segkit.validation import quote

__all__ = ["QUPATH_COLORS", "read_qupath_geojson", "write_qupath_geojson"]

# QuPath's default colours of its standard classes (PathClassFactory).
QUPATH_COLORS: Mapping[str, tuple[int, int, int]] = {
    "Positive": (250, 62, 62),
    "Negative": (112, 112, 225),
    "Tumor": (200, 0, 0),
    "Stroma": (150, 200, 150),
    "Immune cells": (160, 90, 160),
    "Necrosis": (50, 50, 50),
    "Other": (255, 200, 0),
    "Region*": (0, 0, 180),
    "Ignore*": (180, 180, 180),
}

_TYPES: Mapping[str, ObjectType] = {
    "annotation": "annotation",
    "detection": "detection",
    "cell": "cell",
    "tile": "detection",  # a QuPath tile is a kind of detection
    "PathAnnotationObject": "annotation",
    "PathDetectionObject": "detection",
    "PathCellObject": "cell",
    "PathTileObject": "detection",
}


# ----------------------------------------------------------------------------- reading


def _polygon(rings: Any) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise ValueError("a Polygon needs at least one ring of coordinates")
    holes = tuple(np.asarray(r, dtype=float) for r in rings[1:])
    return Polygon(np.asarray(rings[0], dtype=float), holes)


def _geometry(geom: Any) -> Geometry:
    if not isinstance(geom, dict):
        raise ValueError(f"geometry must be an object, got {quote(geom, limit=60)}")
    kind = geom.get("type")
    coords = geom.get("coordinates")
    if kind == "Polygon":
        return _polygon(coords)
    if kind == "MultiPolygon":
        parts = tuple(_polygon(p) for p in coords or [])
        if not parts:
            raise ValueError("a MultiPolygon without polygons")
        return parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if kind == "Point":
        return Points(np.asarray([coords], dtype=float)[:, :2])
    if kind == "MultiPoint":
        return Points(np.asarray(coords or [], dtype=float).reshape(-1, 2))
    if kind == "GeometryCollection":
        members = [_geometry(g) for g in geom.get("geometries") or []]
        polys = [p for m in members if not isinstance(m, Points) for p in _polygons_of(m)]
        points = [m for m in members if isinstance(m, Points)]
        if polys and points or not members:
            raise ValueError("a GeometryCollection must hold only polygons or only points")
        if points:
            return Points(np.concatenate([p.coords for p in points]))
        return polys[0] if len(polys) == 1 else MultiPolygon(tuple(polys))
    raise ValueError(
        f"{kind!s} geometry is not supported (Polygon, MultiPolygon, Point, MultiPoint only)"
    )


def _polygons_of(geom: Geometry) -> tuple[Polygon, ...]:
    if isinstance(geom, MultiPolygon):
        return geom.polygons
    return (geom,) if isinstance(geom, Polygon) else ()


def _rgb(value: Any) -> tuple[int, int, int] | None:
    """An (r, g, b) from ``[r, g, b]``, ``[r, g, b, a]`` or a packed (A)RGB int."""
    if value is None:
        return None
    if isinstance(value, list) and len(value) in (3, 4):
        r, g, b = (int(number(v, "a colour component")) for v in value[:3])
        return (r & 255, g & 255, b & 255)
    if isinstance(value, int) and not isinstance(value, bool):
        return ((value >> 16) & 255, (value >> 8) & 255, value & 255)
    raise ValueError(f"colour must be [r, g, b] or a packed int, got {quote(value, limit=60)}")


def _classification(value: Any) -> tuple[str | None, tuple[int, int, int] | None]:
    if value is None:
        return None, None
    if isinstance(value, str):
        return (value.strip() or None), None
    if not isinstance(value, dict):
        raise ValueError(f"classification must be an object, got {quote(value, limit=60)}")
    color = _rgb(value.get("color", value.get("colorRGB")))
    if "names" in value:
        names = [str(n) for n in value["names"]]
        return (": ".join(names) or None), color
    name = value.get("name")
    parent = value.get("parentClass")
    if parent is not None and name is not None:  # before QuPath 0.4: a chain of parents
        parent_name, _ = _classification(parent)
        name = f"{parent_name}: {name}" if parent_name else name
    return (str(name) if name is not None else None), color


def _measurements(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, list):  # before QuPath 0.4: [{"name": ..., "value": ...}]
        value = {str(m["name"]): m.get("value") for m in value}
    if not isinstance(value, dict):
        raise ValueError(f"measurements must be an object or a list, got {quote(value, limit=60)}")
    return {
        str(k): math.nan if v is None else number(v, f"measurement {k!r}") for k, v in value.items()
    }


def _object_type(feature: dict[str, Any], props: dict[str, Any]) -> ObjectType:
    for key in ("objectType", "object_type", "type"):
        if key in props:
            name = str(props[key])
            return _TYPES.get(name, "annotation")  # QuPath: an unknown type is an annotation
    legacy = feature.get("id")
    if isinstance(legacy, str) and legacy in _TYPES:  # QuPath 0.2 kept the type in "id"
        return _TYPES[legacy]
    return "annotation"


def _annotation(feature: Any) -> Annotation:
    if not isinstance(feature, dict) or feature.get("type", "Feature") != "Feature":
        raise ValueError(f"expected a GeoJSON Feature, got {quote(feature, limit=80)}")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise ValueError("properties must be an object")
    class_name, color = _classification(props.get("classification"))
    object_type = _object_type(feature, props)
    fid = feature.get("id")
    nucleus = None
    if object_type == "cell" and feature.get("nucleusGeometry") is not None:
        found = _geometry(feature["nucleusGeometry"])
        nucleus = found if isinstance(found, Polygon) else None
    return Annotation(
        geometry=_geometry(feature.get("geometry")),
        class_name=class_name,
        object_type=object_type,
        measurements=_measurements(props.get("measurements")),
        id=None if fid is None or fid in _TYPES else str(fid),
        color=color,
        nucleus=nucleus,
    )


def _features(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if data.get("type") == "FeatureCollection" or "features" in data:
            features = data.get("features")
            if not isinstance(features, list):
                raise ValueError("a FeatureCollection whose 'features' is not a list")
            return features
        if data.get("type") == "Feature":
            return [data]
    raise ValueError("not GeoJSON: expected a FeatureCollection, a Feature or a list of Features")


def read_qupath_geojson(path: str | Path) -> list[Annotation]:
    """Read the objects of a QuPath GeoJSON export, in file order.

    Parameters
    ----------
    path : str or Path
        A ``.geojson`` or ``.json`` file.

    Returns
    -------
    list of Annotation

    Raises
    ------
    AnnotationError
        One line naming the file (and the feature) and the problem.
    """
    data = load_json(path)
    try:
        features = _features(data)
    except ValueError as exc:
        raise fail(path, str(exc)) from exc
    out = []
    for i, feature in enumerate(features):
        try:
            out.append(_annotation(feature))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise fail(path, f"feature {i}: {exc}") from exc
    return out


# ----------------------------------------------------------------------------- writing


def _closed(ring: np.ndarray) -> list[list[float]]:
    return [*ring.tolist(), ring[0].tolist()]


def _geojson_polygon(polygon: Polygon) -> list[list[list[float]]]:
    if len(polygon.exterior) < 3:
        raise ValueError("a polygon needs at least 3 points")
    return [_closed(polygon.exterior), *(_closed(h) for h in polygon.holes)]


def _geojson_geometry(geom: Geometry) -> dict[str, Any]:
    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": _geojson_polygon(geom)}
    if isinstance(geom, MultiPolygon):
        coords = [_geojson_polygon(p) for p in geom.polygons]
        return {"type": "MultiPolygon", "coordinates": coords}
    return {"type": "MultiPoint", "coordinates": geom.coords.tolist()}


def _class_color(ann: Annotation, colors: Mapping[str, tuple[int, int, int]] | None) -> list[int]:
    name = str(ann.class_name)
    color = (colors or {}).get(name) or ann.color or QUPATH_COLORS.get(name)
    if color is None:
        raise ValueError(
            f"class {name!r} has no colour (QuPath refuses a class without one); pass "
            f"colors={{{name!r}: (r, g, b)}}"
        )
    rgb = [int(c) for c in color]
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"colour of class {name!r} must be (r, g, b) in 0..255, got {color}")
    return rgb


def _finite_measurements(values: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"measurement {name!r} is not a number: {quote(value, limit=60)}")
        if math.isfinite(value):
            out[str(name)] = float(value)
    return out


def _feature_id(ann: Annotation) -> str:
    if ann.id is not None:
        try:
            return str(uuid.UUID(ann.id))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _feature(
    ann: Annotation, object_type: ObjectType, colors: Mapping[str, tuple[int, int, int]] | None
) -> dict[str, Any]:
    props: dict[str, Any] = {"objectType": object_type}
    if ann.class_name is not None:
        props["classification"] = {"name": ann.class_name, "color": _class_color(ann, colors)}
    measurements = _finite_measurements(ann.measurements)
    if measurements:
        props["measurements"] = measurements
    feature: dict[str, Any] = {
        "type": "Feature",
        "id": _feature_id(ann),
        "geometry": _geojson_geometry(ann.geometry),
    }
    if object_type == "cell" and ann.nucleus is not None:
        feature["nucleusGeometry"] = _geojson_geometry(ann.nucleus)
    feature["properties"] = props
    return feature


def write_qupath_geojson(
    path: str | Path,
    annotations: Iterable[Annotation],
    *,
    object_type: ObjectType = "detection",
    colors: Mapping[str, tuple[int, int, int]] | None = None,
) -> int:
    """Write objects as a GeoJSON FeatureCollection that QuPath imports.

    Features are written one by one as ``annotations`` yields them (a generator over
    millions of nuclei is never held in memory) to a temporary file that replaces ``path``
    only when every feature was written.

    Parameters
    ----------
    path : str or Path
        The ``.geojson`` file to write.
    annotations : iterable of Annotation
        Polygons, multipolygons or points.
    object_type : {"detection", "annotation", "cell"}, default "detection"
        The QuPath object type of every feature.
    colors : mapping of class name to (r, g, b), optional
        Class colours, which come first; a class missing here takes the colour its
        annotation carries, then QuPath's default for its standard classes
        (:data:`QUPATH_COLORS`).

    Returns
    -------
    int
        The number of features written.

    Raises
    ------
    AnnotationError
        Naming the file and the feature: a class without a colour, a measurement that is
        not a number, a polygon with fewer than 3 points. Nothing is left at ``path``.
    """
    if object_type not in ("annotation", "detection", "cell"):
        raise ValueError(f"object_type must be annotation, detection or cell, got {object_type!r}")
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write('{"type": "FeatureCollection", "features": [')
        for count, ann in enumerate(annotations, start=1):
            try:
                text = json.dumps(_feature(ann, object_type, colors), allow_nan=False)
            except (ValueError, TypeError) as exc:
                raise fail(path, f"feature {count - 1}: {exc}") from exc
            fh.write(("\n" if count == 1 else ",\n") + text)
        fh.write("\n]}\n")
    return count
