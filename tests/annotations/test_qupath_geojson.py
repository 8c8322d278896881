"""QuPath GeoJSON: the export variants QuPath writes, and detections written for QuPath."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segkit.annotations import (
    Annotation,
    AnnotationError,
    MultiPolygon,
    Points,
    Polygon,
    read_qupath_geojson,
    write_qupath_geojson,
)

SQUARE = [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
HOLE = [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]


def feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def write(tmp_path: Path, data: object, text: str | None = None) -> Path:
    path = tmp_path / "objects.geojson"
    path.write_text(text if text is not None else json.dumps(data))
    return path


def test_a_feature_collection_of_qupath_04_detections(tmp_path: Path) -> None:
    fid = str(uuid.uuid4())
    feat = feature(
        {"type": "Polygon", "coordinates": [SQUARE, HOLE]},
        objectType="detection",
        classification={"name": "Positive", "color": [250, 62, 62]},
        measurements={"Nucleus: Area": 16.0, "DAB OD mean": 0.4},
    )
    feat["id"] = fid
    (ann,) = read_qupath_geojson(write(tmp_path, {"type": "FeatureCollection", "features": [feat]}))
    assert ann.object_type == "detection" and ann.class_name == "Positive"
    assert ann.color == (250, 62, 62) and ann.id == fid
    assert dict(ann.measurements) == {"Nucleus: Area": 16.0, "DAB OD mean": 0.4}
    assert isinstance(ann.geometry, Polygon)
    assert ann.geometry.exterior.shape == (4, 2)  # the closing point is dropped
    assert len(ann.geometry.holes) == 1 and ann.geometry.area == 15.0


def test_older_exports_list_of_features_legacy_class_and_measurements(tmp_path: Path) -> None:
    old = feature(
        {"type": "Polygon", "coordinates": [SQUARE]},
        isLocked=False,
        classification={"name": "Tumor", "colorRGB": -3670016},
        measurements=[{"name": "Area", "value": 16}, {"name": "Missing", "value": None}],
    )
    v02_detection = {
        "id": "PathDetectionObject",
        **feature({"type": "Point", "coordinates": [1, 2]}),
    }
    first, second = read_qupath_geojson(write(tmp_path, [old, v02_detection]))
    assert first.object_type == "annotation"  # no objectType: QuPath makes an annotation
    assert first.class_name == "Tumor" and first.color == (200, 0, 0)
    assert first.measurements["Area"] == 16 and math.isnan(first.measurements["Missing"])
    assert second.object_type == "detection" and second.id is None
    assert isinstance(second.geometry, Points) and second.geometry.coords.tolist() == [[1, 2]]


def test_a_single_feature_multipolygon_multipoint_derived_class_and_nan(tmp_path: Path) -> None:
    multi = feature(
        {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[5, 5], [6, 5], [6, 6], [5, 5]]]]},
        objectType="cell",
        classification={"names": ["Tumor", "Positive"], "color": [1, 2, 3, 128]},
    )
    text = json.dumps(multi).replace(
        '"properties": {', '"properties": {"measurements": {"x": NaN}, '
    )
    (ann,) = read_qupath_geojson(write(tmp_path, None, text))
    assert isinstance(ann.geometry, MultiPolygon) and len(ann.geometry.polygons) == 2
    assert ann.class_name == "Tumor: Positive" and ann.color == (1, 2, 3)
    assert ann.object_type == "cell" and math.isnan(ann.measurements["x"])
    pts = feature({"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}, classification="Other")
    (p,) = read_qupath_geojson(write(tmp_path, pts))
    assert isinstance(p.geometry, Points) and p.geometry.coords.shape == (2, 2)
    assert p.class_name == "Other" and p.color is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "Topology"}, "not GeoJSON"),
        (
            [feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})],
            "feature 0: LineString",
        ),
        ([feature({"type": "Polygon", "coordinates": [[[0, "a"]]]})], "feature 0"),
        ([{"type": "Feature", "geometry": None}], "feature 0: geometry"),
    ],
)
def test_errors_are_one_line_naming_the_file(tmp_path: Path, data: object, message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(AnnotationError, match=message) as info:
        read_qupath_geojson(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="not valid JSON"):
        read_qupath_geojson(write(tmp_path, None, '{"type": '))


def nuclei() -> list[Annotation]:
    sq = np.array(SQUARE[:-1], dtype=float)
    return [
        Annotation(Polygon(sq), "Positive", measurements={"area": 16.0, "od": math.nan}),
        Annotation(Polygon(sq + 10), "Negative", measurements={"area": np.float32(9.5)}),
        Annotation(Polygon(sq + 20), "Tumor cell", color=(1, 2, 3), id=str(uuid.uuid4())),
        Annotation(Polygon(sq + 30), None),
    ]


def test_written_detections_are_what_qupath_imports(tmp_path: Path) -> None:
    path = tmp_path / "out" / "nuclei.geojson"
    assert write_qupath_geojson(path, iter(nuclei())) == 4
    raw = path.read_text()
    assert "NaN" not in raw and "Infinity" not in raw
    data = json.loads(raw)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 4
    for feat in data["features"]:
        assert feat["type"] == "Feature" and uuid.UUID(feat["id"])
        assert feat["properties"]["objectType"] == "detection"
        ring = feat["geometry"]["coordinates"][0]
        assert feat["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
        cls = feat["properties"].get("classification")
        assert cls is None or (isinstance(cls["name"], str) and len(cls["color"]) == 3)
    first, second, third, fourth = data["features"]
    assert first["properties"]["classification"] == {"name": "Positive", "color": [250, 62, 62]}
    assert first["properties"]["measurements"] == {"area": 16.0}  # NaN left out
    assert second["properties"]["classification"]["color"] == [112, 112, 225]
    assert third["properties"]["classification"]["color"] == [1, 2, 3]
    assert "classification" not in fourth["properties"]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "nuclei.geojson"
    written = nuclei()
    write_qupath_geojson(path, written, colors={"Tumor cell": (9, 9, 9)})
    back = read_qupath_geojson(path)
    assert [a.class_name for a in back] == [a.class_name for a in written]
    assert [a.object_type for a in back] == ["detection"] * 4
    assert back[2].color == (9, 9, 9) and back[2].id == written[2].id
    for a, b in zip(written, back, strict=True):
        assert isinstance(a.geometry, Polygon) and isinstance(b.geometry, Polygon)
        assert np.array_equal(a.geometry.exterior, b.geometry.exterior)
    assert dict(back[1].measurements) == {"area": 9.5}


def test_features_are_streamed_and_a_failure_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "nuclei.geojson"
    path.write_text("old")
    seen: list[int] = []

    def stream() -> Iterator[Annotation]:
        for i, ann in enumerate(nuclei()[:2]):
            seen.append(i)
            yield ann
        yield Annotation(Polygon(np.array(SQUARE[:-1], float)), "Unknown class")

    with pytest.raises(AnnotationError, match=r"feature 2: class 'Unknown class' has no colour"):
        write_qupath_geojson(path, stream())
    assert seen == [0, 1] and path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_cells_keep_their_nucleus_and_points_are_multipoints(tmp_path: Path) -> None:
    sq = np.array(SQUARE[:-1], dtype=float)
    cell = Annotation(Polygon(sq * 2), "Positive", object_type="cell", nucleus=Polygon(sq))
    path = tmp_path / "cells.geojson"
    write_qupath_geojson(path, [cell], object_type="cell")
    (back,) = read_qupath_geojson(path)
    assert back.object_type == "cell" and back.nucleus is not None
    assert np.array_equal(back.nucleus.exterior, sq)
    write_qupath_geojson(path, [Annotation(Points(np.array([[1.0, 2.0]])), "Positive")])
    assert json.loads(path.read_text())["features"][0]["geometry"]["type"] == "MultiPoint"
