"""The cell filter: nucleus features, the JSON classifier, the stage in scoring and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segkit.cli import main
from segkit.imaging import write_image
from segkit.ki67 import score_ki67_labels
from segkit.ki67.cellfeatures import CELL_FEATURES, cell_features
from segkit.ki67.cellfilter import (
    CellFilter,
    apply_cell_filter,
    bundled_cell_filters,
    fit_cell_filter,
    load_cell_filter,
)

F = {name: k for k, name in enumerate(CELL_FEATURES)}
#: two small round hematoxylin nuclei, two large brown ones
SMALL_AND_LARGE = (
    (25, 25, 9, 0.6, 0.02),
    (25, 90, 9, 0.6, 0.02),
    (80, 30, 20, 0.3, 0.5),
    (80, 95, 20, 0.3, 0.5),
)


def _size_filter(min_probability: float = 0.5) -> CellFilter:
    """Small nuclei are ``tumour``, large ones ``other`` (by ``log_area_um2`` alone)."""
    return CellFilter(
        classes=("tumour", "other"), keep=("tumour",), features=("log_area_um2",),
        mean=[5.0], scale=[1.0], weights=[[-5.0, 5.0]], bias=[0.0, 0.0],
        min_probability=min_probability,
    )  # fmt: skip


def test_features_measure_size_shape_and_stain(discs) -> None:
    image, labels = discs(SMALL_AND_LARGE, (120, 130))
    ids, x = cell_features(image, labels, mpp=0.5)
    assert ids.tolist() == [1, 2, 3, 4] and x.shape == (4, len(CELL_FEATURES))
    assert np.all(np.isfinite(x))
    area = np.exp(x[:, F["log_area_um2"]]) / 0.5**2  # back to pixels
    assert np.allclose(area, np.bincount(labels.ravel())[1:])
    assert x[2, F["log_area_um2"]] > x[0, F["log_area_um2"]] + 1.2
    assert x[2, F["dab_od_mean"]] > 0.4 > 0.1 > x[0, F["dab_od_mean"]]
    assert x[0, F["hematoxylin_od_mean"]] > x[2, F["hematoxylin_od_mean"]]
    assert np.all(x[:, F["solidity"]] > 0.9) and np.all(x[:, F["elongation"]] < 1.2)
    # an ellipse is elongated; sizes follow the microns per pixel
    rows, cols = np.mgrid[:120, :130]
    ellipse = (((rows - 60) / 6.0) ** 2 + ((cols - 65) / 24.0) ** 2 <= 1).astype(np.int32)
    _, e = cell_features(image, ellipse, mpp=0.5)
    assert e[0, F["elongation"]] > 3.0
    _, finer = cell_features(image, labels, mpp=0.25)
    assert np.allclose(x[:, F["log_area_um2"]] - finer[:, F["log_area_um2"]], np.log(4.0))


def test_features_of_no_nuclei_and_bad_input(discs) -> None:
    image, labels = discs(SMALL_AND_LARGE, (120, 130))
    ids, x = cell_features(image, np.zeros_like(labels))
    assert len(ids) == 0 and x.shape == (0, len(CELL_FEATURES))
    with pytest.raises(ValueError, match="do not match"):
        cell_features(image, labels[:50])
    with pytest.raises(ValueError, match="mpp"):
        cell_features(image, labels, mpp=-1.0)


def test_json_round_trip_and_files(tmp_path: Path) -> None:
    clf = _size_filter(0.4)
    again = CellFilter.from_json(clf.to_json())
    assert again == clf and again.min_probability == 0.4
    path = clf.save(tmp_path / "f.json")
    loaded = load_cell_filter(path)
    x = np.random.default_rng(0).normal(3.0, 1.0, (7, len(CELL_FEATURES)))
    assert np.allclose(loaded.probabilities(x), clf.probabilities(x))
    assert np.allclose(loaded.probabilities(x).sum(axis=1), 1.0)


def test_filter_drops_the_class_it_does_not_keep(discs) -> None:
    image, labels = discs(SMALL_AND_LARGE, (120, 130))
    kept = apply_cell_filter(image, labels, _size_filter(), mpp=0.5)
    assert sorted(np.unique(kept).tolist()) == [0, 1, 2]
    plain = score_ki67_labels(image, labels, mpp=0.5)
    filtered = score_ki67_labels(image, labels, mpp=0.5, cell_filter=_size_filter())
    assert (plain.summary.total, plain.summary.positive) == (4, 2)
    assert (filtered.summary.total, filtered.summary.positive) == (2, 0)
    assert filtered.measurements.id.tolist() == [1, 2]


def test_fit_learns_a_separable_problem() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, (300, len(CELL_FEATURES)))
    t = np.where(x[:, F["dab_od_mean"]] > 0.5, "tumour", "other").astype(object)
    t[x[:, F["elongation"]] > 1.2] = "lymphocyte"
    clf = fit_cell_filter(x, t, classes=("tumour", "lymphocyte", "other"), keep=("tumour",),
                          steps=800, info={"data": "synthetic"})  # fmt: skip
    assert np.mean(clf.predict(x) == t) > 0.9
    assert np.array_equal(clf.kept(x), clf.predict(x) == "tumour")
    assert CellFilter.from_json(clf.to_json()).info == {"data": "synthetic"}
    with pytest.raises(ValueError, match="unknown class 'stroma'"):
        fit_cell_filter(x[:2], ["stroma", "other"], classes=("tumour", "other"), keep=("tumour",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"format": "something else"}', "not a cell filter"),
        ('{"format": "segkit-cell-filter", "version": 1}', "has no 'bias'"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        load_cell_filter(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_bad_weights_and_names_are_refused() -> None:
    data = _size_filter().to_dict()
    data["weights"] = [[1.0]]
    with pytest.raises(ValueError, match="weights: expected finite numbers of shape"):
        CellFilter.from_dict(data)
    with pytest.raises(ValueError, match="features: unknown"):
        CellFilter(("a", "b"), ("a",), ("colour",), [0], [1], [[0, 0]], [0, 0])
    with pytest.raises(ValueError, match="no shipped cell filter .*segkit:shidc-breast"):
        load_cell_filter("segkit:nothing")
    with pytest.raises(ValueError, match="no such cell filter file"):
        load_cell_filter("/no/such/filter.json")


def test_the_shipped_filter_loads_and_names_its_data() -> None:
    assert "shidc-breast" in bundled_cell_filters()
    clf = load_cell_filter("segkit:shidc-breast")
    assert clf.keep == ("tumour",) and set(clf.features) <= set(CELL_FEATURES)
    assert "SHIDC" in clf.info["training_data"] and "licence" in clf.info


def test_cli_cell_filter_flag(tmp_path: Path, capsys, discs) -> None:
    image, _ = discs(SMALL_AND_LARGE, (120, 130))
    write_image(tmp_path / "a.png", image)
    path = _size_filter().save(tmp_path / "size.json")

    def total(out: Path) -> int:
        lines = (out / "summary.csv").read_text().splitlines()
        return int(lines[1].split(",")[lines[0].split(",").index("total")])

    args = ["ki67", str(tmp_path / "a.png"), "--model", "classical", "--mpp", "0.5"]
    assert main([*args, "-o", str(tmp_path / "all")]) == 0
    assert main([*args, "-o", str(tmp_path / "f"), "--cell-filter", str(path)]) == 0
    assert total(tmp_path / "all") == 4 and total(tmp_path / "f") == 2
    capsys.readouterr()
    (tmp_path / "bad.json").write_text(json.dumps({"format": "x"}))
    bad = str(tmp_path / "bad.json")
    assert main([*args, "-o", str(tmp_path / "b"), "--cell-filter", bad]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.json" in err and "not a cell filter" in err
