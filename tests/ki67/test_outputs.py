"""summary.csv, cells.csv and the overlay."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from segkit.imaging import read_image
from segkit.ki67.outputs import (
    CELL_COLUMNS,
    CLASS_OUTLINE_COLOURS,
    SUMMARY_COLUMNS,
    draw_class_outlines,
    write_ki67_outputs,
)
from segkit.ki67.score import score_ki67_labels


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_columns_and_values(tmp_path, four_nuclei):
    image, labels = four_nuclei
    scores = {"a": score_ki67_labels(image, labels), "b": score_ki67_labels(image, labels * 0)}
    written = write_ki67_outputs(tmp_path, {"a": image, "b": image}, scores)
    assert sorted(p.name for p in written) == [
        "a_overlay.png",
        "b_overlay.png",
        "cells.csv",
        "summary.csv",
    ]
    summary = _read(tmp_path / "summary.csv")
    assert tuple(summary[0]) == SUMMARY_COLUMNS
    assert summary[0]["image"] == "a"
    assert (summary[0]["positive"], summary[0]["negative"], summary[0]["total"]) == ("3", "1", "4")
    assert float(summary[0]["ki67_index"]) == pytest.approx(75.0)
    assert float(summary[0]["h_score"]) == pytest.approx(150.0)
    assert summary[0]["bin_3plus"] == "1"
    assert "fewer than 500" in summary[0]["warning"]
    assert summary[1]["total"] == "0" and "no tumour cells" in summary[1]["warning"]
    cells = _read(tmp_path / "cells.csv")
    assert tuple(cells[0]) == CELL_COLUMNS
    assert len(cells) == 4 and {c["image"] for c in cells} == {"a"}
    assert [c["class"] for c in cells] == ["Negative", "Positive", "Positive", "Positive"]
    assert (float(cells[1]["x"]), float(cells[1]["y"])) == pytest.approx((60.0, 20.0))
    assert not list(tmp_path.glob(".*part"))  # atomic writes leave no temporary files


def test_overlay_draws_contours_in_class_colours_and_keeps_the_inside(tmp_path, four_nuclei):
    image, labels = four_nuclei
    score = score_ki67_labels(image, labels)
    overlay = draw_class_outlines(image, score)
    assert overlay.shape == image.shape and overlay.dtype == np.uint8
    assert tuple(overlay[20, 12]) == CLASS_OUTLINE_COLOURS["Negative"]  # edge of nucleus 1
    assert tuple(overlay[20, 52]) == CLASS_OUTLINE_COLOURS["Positive"]  # edge of nucleus 2
    np.testing.assert_array_equal(overlay[20, 20], image[20, 20])  # centre not filled
    np.testing.assert_array_equal(overlay[0, 0], image[0, 0])  # background untouched
    write_ki67_outputs(tmp_path, {"x": image}, {"x": score})
    np.testing.assert_array_equal(read_image(tmp_path / "x_overlay.png"), overlay)
    thick = draw_class_outlines(image, score, thickness=3)
    assert np.count_nonzero(np.any(thick != image, axis=-1)) > np.count_nonzero(
        np.any(overlay != image, axis=-1)
    )


def test_missing_image_is_an_error(tmp_path, four_nuclei):
    image, labels = four_nuclei
    with pytest.raises(ValueError, match="no image given for scored image 'a'"):
        write_ki67_outputs(tmp_path, {}, {"a": score_ki67_labels(image, labels)})
