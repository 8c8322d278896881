"""Point files whose label ids are not SHIDC-B-Ki-67's: ``SourceLayout(point_labels=...)`` and
``--point-labels`` name them; a new mapping re-encodes the points; a bad mapping is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segkit.cli import main
from segkit.dataset import SourceLayout, inspect_dataset, prepare_dataset
from segkit.dataset.pairs import load_points
from segkit.dataset.prepare import PrepareError
from segkit.imaging import write_image
from segkit.template import DatasetTemplate

POINTS = [{"x": 10.0, "y": 20.0, "label_id": 0}, {"x": 50.0, "y": 40.0, "label_id": 7}]


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write_image(src / "images" / "p.png", np.full((64, 64, 3), 128, np.uint8))
    (src / "points").mkdir()
    (src / "points" / "p.json").write_text(json.dumps(POINTS))
    return src


def _prepare(src: Path, dst: Path, labels: object, **kw: object) -> tuple[object, ...]:
    layout = SourceLayout(point_labels=labels)
    tmpl = DatasetTemplate(height=64, width=64)
    report = prepare_dataset(src, dst, tmpl, source_layout=layout, workers=1, progress=False, **kw)
    return report.manifest, report


def test_named_label_ids_reach_the_prepared_points(tmp_path: Path) -> None:
    src = _source(tmp_path)
    manifest, _ = _prepare(src, tmp_path / "out", {"0": "Negative", 7: "Positive"})
    (pair,) = manifest.pairs  # type: ignore[attr-defined]
    assert load_points(manifest, pair)[1] == ("Negative", "Positive")
    # a new mapping is a new source: refused as a change, then encoded again with --overwrite
    with pytest.raises(FileExistsError, match="its source has changed"):
        _prepare(src, tmp_path / "out", {0: "Lymphocyte", 7: "Positive"})
    again, report = _prepare(
        src, tmp_path / "out", {0: "Lymphocyte", 7: "Positive"}, overwrite=True
    )
    (pair,) = again.pairs  # type: ignore[attr-defined]
    assert load_points(again, pair)[1] == ("Lymphocyte", "Positive")
    assert report.encoded == 1  # type: ignore[attr-defined]


def test_without_a_mapping_the_unknown_id_is_named(tmp_path: Path) -> None:
    src = _source(tmp_path)
    with pytest.raises(PrepareError) as err:
        prepare_dataset(
            src, tmp_path / "out", DatasetTemplate(height=64, width=64), workers=1,
            progress=False,
        )  # fmt: skip
    assert "points/p.json: point 0: label_id 0 has no class name" in str(err.value)
    assert "--point-labels" in str(err.value)


@pytest.mark.parametrize(
    "labels, message",
    [
        ({"x": "Positive"}, "label ids are integers"),
        ({1: ""}, "a class name"),
        ({}, "point_labels"),
    ],
)
def test_a_bad_mapping_is_refused_with_its_field(labels: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SourceLayout(point_labels=labels)


def test_the_prepare_command_takes_point_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _source(tmp_path)
    tmpl = tmp_path / "t.json"
    tmpl.write_text(DatasetTemplate(height=64, width=64).to_json())
    dst = tmp_path / "out"
    argv = ["prepare", str(src), str(dst), "--template", str(tmpl), "--workers", "1"]
    assert main([*argv, "--point-labels", "0=Negative,7=Positive"]) == 0
    points = json.loads(next(dst.rglob("points/p.json")).read_text())
    assert [p["class"] for p in points] == ["Negative", "Positive"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*argv, "--point-labels", "0:Negative"])
    assert "'0:Negative' is not ID=NAME" in capsys.readouterr().err


def test_inspect_reads_the_annotation_files(tmp_path: Path) -> None:
    src = _source(tmp_path)
    report = inspect_dataset(src, SourceLayout(point_labels={0: "Negative", 7: "Positive"}))
    (pair,) = report.pairs
    assert pair["ok"] and pair["annotation_objects"] == {
        "polygons": 0, "points": 2, "classes": {"Negative": 1, "Positive": 1}
    }  # fmt: skip
    assert "annotation objects: 0 polygons, 2 points (Negative 1, Positive 1)" in report.format()
    # without the mapping the bad file is named with its problem, before any prepare
    bad = inspect_dataset(src, "auto")
    assert bad.n_pairs == 0
    ((entry),) = bad.unreadable
    assert entry["file"] == "points/p.json" and "label_id 0 has no class name" in entry["reason"]
