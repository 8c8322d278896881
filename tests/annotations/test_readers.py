"""Aperio XML, Labelbox and point readers, and format detection, on hand-made files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segkit.annotations import (
    AnnotationError,
    Points,
    Polygon,
    point_set,
    read_annotations,
    read_aperio_xml,
    read_labelbox,
    read_points,
)
from segkit.annotations.formats import detect_format, registered_formats

APERIO = """<Annotations MicronsPerPixel="0.2527">
  <Annotation Id="1" Name="Nucleus">
    <Regions>
      <Region Id="7" Type="0" Area="4.0" Length="8" NegativeROA="0">
        <Vertices>
          <Vertex X="1" Y="1"/><Vertex X="3" Y="1"/><Vertex X="3" Y="3"/><Vertex X="1" Y="3"/>
        </Vertices>
      </Region>
      <Region Id="8" NegativeROA="1"><Vertices><Vertex X="5" Y="5"/></Vertices></Region>
    </Regions>
  </Annotation>
</Annotations>
"""


def test_aperio_regions_are_polygons_with_the_microns_per_pixel(tmp_path: Path) -> None:
    path = tmp_path / "slide.xml"
    path.write_text(APERIO)
    found = read_aperio_xml(path)
    assert found.microns_per_pixel == pytest.approx(0.2527)
    first, second = found.annotations
    assert isinstance(first.geometry, Polygon)
    assert first.geometry.exterior[0].tolist() == [1.5, 1.5]  # pixel centres -> corners
    assert first.class_name == "Nucleus" and first.id == "1/7"
    assert dict(first.measurements) == {"Area": 4.0, "Length": 8.0}
    assert second.measurements["NegativeROA"] == 1.0
    raw = read_aperio_xml(path, pixel_centres=False).annotations[0].geometry
    assert isinstance(raw, Polygon) and raw.exterior[0].tolist() == [1.0, 1.0]
    assert len(read_annotations(path)) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
            "<Annotations>&lol;</Annotations>",
            "DOCTYPE or ENTITY",
        ),
        ("<Annotations><Annotation>", "not valid XML"),
        ("<Other/>", "expected <Annotations>"),
        ('<Annotations MicronsPerPixel="x"/>', "MicronsPerPixel"),
        (
            '<Annotations><Annotation><Region Id="3"><Vertex X="1"/></Region>'
            "</Annotation></Annotations>",
            "region '3'",
        ),
    ],
)
def test_aperio_refuses_unsafe_or_broken_xml(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=message) as info:
        read_aperio_xml(path)
    assert str(path) in str(info.value)


def labelbox_export() -> list[dict[str, object]]:
    tri = [{"x": 0, "y": 0}, {"x": 4, "y": 0}, {"x": 0, "y": 4}]
    return [
        {
            "External ID": "a b.jpg",
            "Label": {
                "Positive": [{"geometry": tri}],
                "Negative": [{"geometry": tri}, {"geometry": tri}],
            },
        },
        {"External ID": "a b.jpg", "Label": "Skip"},
        {"External ID": "c.jpg", "Skipped": True, "Label": {}},
        {
            "External ID": "d.jpg",
            "Label": {
                "objects": [
                    {"title": "Positive", "polygon": tri, "featureId": "f1"},
                    {"title": "Lymphocyte", "point": {"x": 2, "y": 3}},
                ]
            },
        },
    ]


def test_labelbox_groups_by_external_id_and_leaves_out_skips(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(labelbox_export()))
    found = read_labelbox(path)
    assert list(found) == ["a b.jpg", "d.jpg"]
    assert [a.class_name for a in found["a b.jpg"]] == ["Positive", "Negative", "Negative"]
    assert all(a.image == "a b.jpg" for a in found["a b.jpg"])
    poly, point = found["d.jpg"]
    assert isinstance(poly.geometry, Polygon) and poly.id == "f1"
    assert isinstance(point.geometry, Points) and point.class_name == "Lymphocyte"
    assert len(read_annotations(path)) == 5


def test_labelbox_refuses_two_labelled_entries_for_one_image(tmp_path: Path) -> None:
    export = labelbox_export()
    export[1]["Label"] = export[0]["Label"]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    with pytest.raises(AnnotationError, match="second labelled entry for 'a b.jpg'"):
        read_labelbox(path)


def test_points_with_the_default_and_a_custom_mapping(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    items = [
        {"x": 1, "y": 2, "label_id": 1},
        {"x": 3.5, "y": 4, "label_id": 2},
        {"x": 5, "y": 6, "label_id": 3},
        {"x": 7, "y": 8, "label_id": 1},
    ]
    path.write_text(json.dumps(items))
    points = read_points(path)
    assert points.coords.shape == (4, 2) and points.coords[1].tolist() == [3.5, 4.0]
    assert points.counts() == {"Positive": 2, "Negative": 1, "Lymphocyte": 1}
    assert points.of_class("Positive").tolist() == [[1, 2], [7, 8]]
    assert points.pixels()[1].tolist() == [4, 3]  # (row, col)
    custom = read_points(path, labels={1: "pos", 2: "neg", 3: "til"})
    assert custom.class_names == ("pos", "neg", "til", "pos")
    anns = read_annotations(path)
    assert point_set(anns).counts() == points.counts()
    with pytest.raises(AnnotationError, match="label_id 3 has no class name"):
        read_points(path, labels={1: "pos", 2: "neg"})
    path.write_text('[{"x": 1, "y": 2}]')
    with pytest.raises(AnnotationError, match="point 0: missing 'label_id'"):
        read_points(path)


def test_format_detection_by_suffix_and_content(tmp_path: Path) -> None:
    fc = {"type": "FeatureCollection", "features": []}
    cases = {
        "a.geojson": json.dumps(fc),
        "b.json": json.dumps([{"type": "Feature", "geometry": None}]),
        "c.xml": APERIO,
        "d.json": json.dumps(labelbox_export()),
        "e.json": '[{"x": 1, "y": 2, "label_id": 1}]',
    }
    names = []
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        names.append(detect_format(tmp_path / name).name)
    assert names == ["qupath-geojson", "qupath-geojson", "aperio-xml", "labelbox", "points"]
    assert [f.name for f in registered_formats()] == [
        "qupath-geojson",
        "aperio-xml",
        "labelbox",
        "points",
    ]
    for name, text in {"f.json": '{"a": 1}', "g.txt": json.dumps(fc)}.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(AnnotationError, match="not a known annotation format"):
            read_annotations(tmp_path / name)
    with pytest.raises(AnnotationError, match="no such file"):
        read_annotations(tmp_path / "missing.json")


def test_polygon_rings_are_validated() -> None:
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        Polygon(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        Polygon(np.array([[0, 0], [1, np.nan], [1, 1]]))
