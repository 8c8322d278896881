"""``segkit ki67 SLIDE``: nuclei streamed from a whole slide, the hot spot, the heat map."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from support import require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")
keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.cli import main  # noqa: E402
from segkit.imaging import read_image  # noqa: E402
from segkit.ki67.hotspot import HOTSPOT_COLUMNS  # noqa: E402
from segkit.ki67.outputs import SUMMARY_COLUMNS  # noqa: E402
from segkit.ki67.wholeslide import score_ki67_slide  # noqa: E402
from segkit.models import ModelInfo, save_model  # noqa: E402
from segkit.slides import make_synthetic_slide  # noqa: E402


def _dark_model() -> keras.Model:
    inputs = keras.Input((None, None, 3))
    grey = keras.ops.mean(inputs, axis=-1, keepdims=True)
    fg = keras.ops.sigmoid((200.0 - grey) / 8.0)
    return keras.Model(inputs, keras.ops.concatenate([1.0 - fg, fg], axis=-1))


def _info() -> ModelInfo:
    return ModelInfo((128, 128, 3), class_names=("background", "nucleus"), mpp=0.5)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A slide of about a thousand nuclei scored through the command line."""
    tmp = tmp_path_factory.mktemp("ki67slide")
    made = make_synthetic_slide(
        tmp / "case.ome.tif", size=(2400, 1800), tissue_fraction=0.5, mpp=0.5, tile=256,
        levels=3, seed=4, compression="zlib",
    )  # fmt: skip
    save_model(_dark_model(), tmp / "m", _info())
    out = tmp / "out"
    code = main(["ki67", str(made.path), "-o", str(out), "--model", str(tmp / "m"),
                 "--tile-size", "128"])  # fmt: skip
    assert code == 0
    return {"made": made, "out": out}


def test_the_summary_row_has_the_hot_spot_and_its_index_is_that_of_its_cells(scored) -> None:
    out = scored["out"]
    (row,) = list(csv.DictReader((out / "summary.csv").open()))
    assert set(SUMMARY_COLUMNS) | set(HOTSPOT_COLUMNS) == set(row)
    assert row["image"] == "case" and int(row["total"]) >= 500
    assert int(row["positive"]) + int(row["negative"]) == int(row["total"])
    cells = list(csv.DictReader((out / "cells.csv").open()))
    assert len(cells) == int(row["total"])
    x = np.array([float(c["x"]) for c in cells]) * 0.5  # level-0 px -> um (mpp 0.5)
    y = np.array([float(c["y"]) for c in cells]) * 0.5
    positive = np.array([c["class"] == "Positive" for c in cells])
    assert 100 * positive.mean() == pytest.approx(float(row["ki67_index"]), abs=1e-3)
    size = float(row["hotspot_size_um"])
    cx, cy = float(row["hotspot_x_um"]), float(row["hotspot_y_um"])
    inside = (abs(x - cx) < size / 2) & (abs(y - cy) < size / 2)
    assert inside.sum() == int(row["hotspot_cells"]) >= 500
    assert 100 * positive[inside].mean() == pytest.approx(
        float(row["hotspot_ki67_index"]), abs=1e-3
    )
    assert float(row["hotspot_ki67_index"]) >= float(row["ki67_index"])
    assert size % 50 == 0  # whole 50 um bins


def test_the_geojson_holds_every_nucleus_as_a_closed_detection(scored) -> None:
    out, made = scored["out"], scored["made"]
    geo = json.loads((out / "case.geojson").read_text())
    (row,) = list(csv.DictReader((out / "summary.csv").open()))
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == int(row["total"])
    width, height = made.size
    for feature in geo["features"]:
        props = feature["properties"]
        assert props["objectType"] == "detection"
        assert props["classification"]["name"] in ("Positive", "Negative")
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        assert len(ring) >= 4 and np.array_equal(ring[0], ring[-1])
        assert ring[:, 0].min() >= 0 and ring[:, 0].max() <= width
        assert ring[:, 1].min() >= 0 and ring[:, 1].max() <= height


def test_the_heatmap_and_the_tissue_outline_are_written(scored) -> None:
    out = scored["out"]
    heat = read_image(out / "case_ki67_heatmap.png")
    tissue = read_image(out / "case_tissue.png")
    assert heat.shape == tissue.shape and heat.ndim == 3
    red, blue = heat[..., 0].astype(int), heat[..., 2].astype(int)
    assert (abs(red - blue) > 30).mean() > 0.05  # the local index is painted over the tissue
    assert not (out / "case_instances.tif").exists()  # no slide-sized label image


def test_nuclei_stream_into_the_geojson_writer(tmp_path: Path, monkeypatch) -> None:
    import segkit.annotations.qupath_geojson as qupath

    made = make_synthetic_slide(
        tmp_path / "small.ome.tif", size=(900, 700), tissue_fraction=0.5, mpp=0.5, tile=256,
        levels=2, seed=5, compression="zlib",
    )  # fmt: skip
    real = qupath.write_qupath_geojson
    seen = {}

    def spy(path, annotations, **options):
        seen["lazy"] = not isinstance(annotations, list | tuple)
        return real(path, annotations, **options)

    monkeypatch.setattr(qupath, "write_qupath_geojson", spy)
    score = score_ki67_slide(made.path, tmp_path / "o", (_dark_model(), _info()), tile_size=128,
                             min_cells=20)  # fmt: skip
    assert seen["lazy"]
    assert score.hotspot is not None and score.hotspot.cells >= 20
    assert score.summary.total == len(json.loads(score.paths["geojson"].read_text())["features"])
    assert score.band_bytes > 0 and score.peak_buffer_bytes > 0 and score.cut == 0


def test_the_learned_classifier_on_a_slide(tmp_path: Path) -> None:
    """A model with negative and positive classes: brown nuclei are its positive ones."""
    inputs = keras.Input((None, None, 3))
    grey = keras.ops.mean(inputs, axis=-1, keepdims=True)
    fg = keras.ops.sigmoid((200.0 - grey) / 8.0)
    red, blue = inputs[..., :1], inputs[..., 2:3]
    brown = keras.ops.sigmoid((red - blue) / 8.0)  # DAB: more red than blue
    outputs = keras.ops.concatenate([1.0 - fg, fg * (1.0 - brown), fg * brown], axis=-1)
    model = keras.Model(inputs, outputs)
    names = ("background", "negative", "positive")
    info = ModelInfo((128, 128, 3), num_classes=3, class_names=names, mpp=0.5)
    made = make_synthetic_slide(
        tmp_path / "l.ome.tif", size=(900, 700), tissue_fraction=0.5, mpp=0.5, tile=256,
        levels=2, seed=5, compression="zlib",
    )  # fmt: skip
    learned = score_ki67_slide(made.path, tmp_path / "a", (model, info), tile_size=128,
                               classifier="learned", min_cells=20)  # fmt: skip
    dab = score_ki67_slide(made.path, tmp_path / "b", (model, info), tile_size=128,
                           min_cells=20)  # fmt: skip
    assert learned.summary.total == dab.summary.total > 20
    assert 0 < learned.summary.positive < learned.summary.total
    assert abs(learned.summary.ki67_index - dab.summary.ki67_index) < 15
