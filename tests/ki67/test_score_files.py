"""Ki-67 scoring of image files with a model: outputs, seams, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from support import require_module

keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.cli import main  # noqa: E402
from segkit.imaging import write_image  # noqa: E402
from segkit.ki67.pipeline import score_ki67, score_ki67_image  # noqa: E402
from segkit.ki67.qupath_names import QUPATH_NAMES  # noqa: E402
from segkit.models import ModelInfo  # noqa: E402
from segkit.synthetic import make_synthetic_sample  # noqa: E402


def _oracle_model() -> keras.Model:
    """A stand-in for a trained nucleus model: foreground where the pixel is dark.

    Two channels (background, nucleus) from the image's mean intensity, so its output is a
    clean probability map whatever the tiling.
    """
    inputs = keras.Input((None, None, 3))
    grey = keras.ops.mean(inputs, axis=-1, keepdims=True)
    fg = keras.ops.sigmoid((200.0 - grey) / 8.0)
    outputs = keras.ops.concatenate([1.0 - fg, fg], axis=-1)
    return keras.Model(inputs, outputs)


def _info() -> ModelInfo:
    return ModelInfo((64, 64, 3), class_names=("background", "nucleus"))


def test_nuclei_on_tile_seams_are_counted_once() -> None:
    image = np.full((192, 192, 3), 235, np.uint8)
    centres = [(64, 64), (64, 128), (128, 64), (128, 128), (64, 96), (100, 128)]
    yy, xx = np.mgrid[:192, :192]
    for r, c in centres:  # every centre on or near a 64-px tile seam
        image[(yy - r) ** 2 + (xx - c) ** 2 <= 7**2] = (60, 60, 140)
    score = score_ki67_image(image, (_oracle_model(), _info()), tile_size=64)
    assert score.summary.total == len(centres)
    areas = score.measurements.area
    assert np.all(np.abs(areas - np.pi * 7**2) < 0.2 * np.pi * 7**2)


def test_score_ki67_writes_every_output(tmp_path: Path) -> None:
    sample = make_synthetic_sample(160, 200, seed=3, density=1.5)
    write_image(tmp_path / "in" / "field one.png", sample.image)
    scores = score_ki67(
        [tmp_path / "in" / "field one.png"], tmp_path / "out", (_oracle_model(), _info())
    )
    out = tmp_path / "out"
    for name in ("summary.csv", "cells.csv", "field one.geojson", "field one_overlay.png",
                 "field one_instances.tif"):  # fmt: skip
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert rows[0]["image"] == "field one"
    s = scores["field one"].summary
    assert int(rows[0]["positive"]) + int(rows[0]["negative"]) == int(rows[0]["total"]) > 0
    assert float(rows[0]["ki67_index"]) == pytest.approx(100 * s.positive / s.total, abs=0.01)
    cells = list(csv.DictReader((out / "cells.csv").open()))
    assert len(cells) == s.total and {c["class"] for c in cells} <= {"Positive", "Negative"}
    geo = json.loads((out / "field one.geojson").read_text())
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == s.total
    feature = geo["features"][0]
    assert feature["properties"]["objectType"] == "detection"
    cls = feature["properties"]["classification"]
    assert cls["name"] in ("Positive", "Negative") and len(cls["color"]) == 3
    ring = feature["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) >= 4
    names = set(QUPATH_NAMES.values())
    for f in geo["features"]:  # QuPath's own names, so its scripts and commands apply
        assert set(f["properties"]["measurements"]) <= names
    assert {"Nucleus: DAB OD mean", "Nucleus: Area px^2"} <= set(
        feature["properties"]["measurements"]
    )
    in_geojson = sorted(
        f["properties"]["measurements"]["Nucleus: DAB OD mean"] for f in geo["features"]
    )
    in_csv = sorted(float(c["dab_od_mean"]) for c in cells)
    assert in_geojson == pytest.approx(in_csv, abs=1e-3)


def test_dab_threshold_finds_the_positive_synthetic_nuclei() -> None:
    sample = make_synthetic_sample(256, 256, seed=5, density=1.2, positive_fraction=0.5)
    score = score_ki67_image(sample.image, (_oracle_model(), _info()))
    truth = 100 * sample.positive.mean()
    assert abs(score.summary.ki67_index - truth) < 15


def test_cli_with_the_classical_detector(tmp_path: Path, capsys) -> None:
    sample = make_synthetic_sample(128, 128, seed=1)
    write_image(tmp_path / "a.png", sample.image)
    assert main(["ki67", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"),
                 "--model", "classical"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "a: " in out and "Ki-67 index" in out and "fewer than 500" in out
    assert (tmp_path / "o" / "summary.csv").is_file()


def test_learned_classifier_needs_positive_and_negative_classes() -> None:
    sample = make_synthetic_sample(64, 64, seed=1)
    with pytest.raises(ValueError, match="'negative' and 'positive'"):
        score_ki67_image(sample.image, (_oracle_model(), _info()), classifier="learned")


def test_a_cell_filter_keeps_only_its_tumour_nuclei(tmp_path: Path) -> None:
    from segkit.ki67.cellfilter import CellFilter

    sample = make_synthetic_sample(256, 256, seed=5, density=1.2, positive_fraction=0.5)
    model = (_oracle_model(), _info())
    plain = score_ki67_image(sample.image, model)
    areas = np.bincount(plain.labels.ravel())[1:]
    cut = float(np.log(np.median(areas[areas > 0]) * 0.25**2))  # median area, in µm²
    big_is_other = CellFilter(("tumour", "other"), ("tumour",), ("log_area_um2",), [cut], [0.1],
                              [[-1.0, 1.0]], [0.0, 0.0])  # fmt: skip
    kept = score_ki67_image(sample.image, model, cell_filter=big_is_other)
    assert 0 < kept.summary.total < plain.summary.total
    assert np.all(np.isin(np.unique(kept.labels), np.unique(plain.labels)))
    path = big_is_other.save(tmp_path / "f.json")
    write_image(tmp_path / "a.png", sample.image)
    scores = score_ki67([tmp_path / "a.png"], tmp_path / "o", model, cell_filter=path)
    assert scores["a"].summary.total == kept.summary.total
