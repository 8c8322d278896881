"""The layouts that pair images with annotation files (points, polygons, labelbox) on their
own, and the ``annotations`` folder option of discovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segkit.dataset import SourceLayout, discover_pairs
from segkit.dataset.layouts import Request, labelbox, points, polygons

ROOT = Path("/nonexistent-source")


def annotated(found: object) -> dict[str, tuple[str, str | None]]:
    return dict(found.annotations)  # type: ignore[attr-defined]


def test_points_pairs_images_with_the_point_file_below_the_points_folder() -> None:
    files = ["images/a.jpg", "images/b.jpg", "images/sub/c.jpg", "other/d.jpg"]
    others = ("points/a.json", "points/sub/c.json", "points/e.json", "README.md")
    found = points.find(files, Request(ROOT, others=others))
    assert [(i, m) for i, m, _, _ in found.pairs] == [
        ("images/a.jpg", ()),
        ("images/sub/c.jpg", ()),
    ]
    assert annotated(found) == {
        "images/a.jpg": ("points/a.json", None),
        "images/sub/c.jpg": ("points/sub/c.json", None),
    }
    assert found.images_without_mask == ["images/b.jpg"]
    assert [u.file for u in found.unrelated] == ["other/d.jpg"]
    assert points.find(files, Request(ROOT)).pairs == []  # no point files, no pairs


def test_polygons_pairs_by_stem_beside_the_image_first_then_anywhere() -> None:
    files = ["slides/a.tif", "slides/b.tif", "slides/c.tif", "x/d.png", "y/d.png"]
    others = ("slides/a.xml", "xml/a.xml", "geo/b.geojson", "notes.txt", "d.json")
    found = polygons.find(files, Request(ROOT, others=others))
    assert annotated(found) == {
        "slides/a.tif": ("slides/a.xml", None),  # the one beside it wins
        "slides/b.tif": ("geo/b.geojson", None),  # the only one, elsewhere
    }
    assert all(masks == () for _, masks, _, _ in found.pairs)
    assert found.images_without_mask == ["slides/c.tif"]
    assert sorted(u.file for u in found.unrelated) == ["x/d.png", "y/d.png"]  # two images, one stem
    assert "ambiguous" in found.unrelated[0].reason


def test_labelbox_pairs_external_ids_with_files_or_folders(tmp_path: Path) -> None:
    entry = {"Label": {"Positive": [{"geometry": [{"x": 1, "y": 1}, {"x": 5, "y": 1},
                                                  {"x": 5, "y": 5}]}]}}  # fmt: skip
    export = [
        {"ID": "1", "DataRow ID": "r1", "External ID": "f 1.jpg", **entry},
        {"ID": "2", "DataRow ID": "r2", "External ID": "g.png", **entry},
        {"ID": "3", "DataRow ID": "r3", "External ID": "h.jpg", "Label": "Skip"},
    ]
    (tmp_path / "export.json").write_text(json.dumps(export))
    (tmp_path / "other.json").write_text("[]")
    files = ["f 1/original.jpg", "f 1/mask_positive.png", "flat/g.png", "h/original.jpg"]
    request = Request(tmp_path, others=("export.json", "other.json"))
    found = labelbox.find(files, request)
    assert annotated(found) == {
        "f 1/original.jpg": ("export.json", "f 1.jpg"),
        "flat/g.png": ("export.json", "g.png"),
    }
    assert {stem for _, _, _, stem in found.pairs} == {"f 1", "g"}
    assert [u.file for u in found.unrelated] == ["f 1/mask_positive.png"]
    assert "polygons" in found.unrelated[0].reason
    assert found.images_without_mask == ["h/original.jpg"]  # "Skip" pairs nothing


def test_annotation_folder_pairs_by_stem_with_any_layout(tmp_path: Path) -> None:
    src, xml = tmp_path / "train", tmp_path / "xml"
    for rel in ("images/a.png", "masks/a.png", "images/b.png", "images/c.png", "masks/c.png"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"")
    xml.mkdir()
    for name in ("a.xml", "b.xml", "z.xml"):
        (xml / name).write_text("<Annotations/>")
    found = discover_pairs(src, SourceLayout(annotations=str(xml)))
    assert found.layout == "separate"
    by_name = {p.name: p for p in found.pairs}
    assert by_name["a"].masks == ("masks/a.png",) and by_name["a"].annotations == "../xml/a.xml"
    assert by_name["b"].masks == () and by_name["b"].annotations == "../xml/b.xml"
    assert by_name["c"].annotations is None
    assert [(u.file, u.reason) for u in found.unrelated] == [
        ("../xml/z.xml", "annotation file without an image")
    ]
    relative = discover_pairs(src, SourceLayout(annotations="../xml"))
    assert {p.name: p.annotations for p in relative.pairs} == {
        p.name: p.annotations for p in found.pairs
    }
    with pytest.raises(FileNotFoundError, match="annotation folder"):
        discover_pairs(src, SourceLayout(annotations="../nope"))


def test_annotation_folder_follows_the_link_rule(tmp_path: Path) -> None:
    src, xml, outside = tmp_path / "src", tmp_path / "xml", tmp_path / "outside"
    (src / "images").mkdir(parents=True)
    (src / "images" / "a.png").write_bytes(b"")
    xml.mkdir()
    outside.mkdir()
    (outside / "a.xml").write_text("<Annotations/>")
    (xml / "a.xml").symlink_to(outside / "a.xml")
    found = discover_pairs(src, SourceLayout(annotations=str(xml)))
    assert found.pairs == () and found.links_outside == ("../xml/a.xml",)
    followed = discover_pairs(src, SourceLayout(annotations=str(xml), follow_symlinks=True))
    assert [p.annotations for p in followed.pairs] == ["../xml/a.xml"]


def test_cli_annotations_flag_is_resolved_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from segkit.commands.inspect import add_source_arguments, source_layout_from_args

    parser = argparse.ArgumentParser()
    add_source_arguments(parser)
    monkeypatch.chdir(tmp_path)
    layout = source_layout_from_args(parser.parse_args(["--annotations", "xml"]))
    assert layout.annotations == str(tmp_path / "xml")
    assert source_layout_from_args(parser.parse_args([])).annotations is None
