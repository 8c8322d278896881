from __future__ import annotations

import json

import numpy as np
import pytest

from segkit.template import DatasetTemplate, TemplateError, load_template
from segkit.widgets import logic


def _values(tmp_path, **changes):
    values = logic.template_to_form(DatasetTemplate(), tmp_path / "t.json")
    values.update(changes)
    return values


def test_form_round_trips_a_template(tmp_path):
    template = DatasetTemplate(
        height=128,
        width=96,
        image_type="jpg",
        color_model="grayscale",
        layout="suffix",
        mask_keyword="_label",
        fit="tile",
        classes={"names": ["bg", "neg", "pos"], "mapping": {"1": 1, "2": 2}},
        split={"train": 0.6, "val": 0.2, "test": 0.2, "seed": 5, "group_pattern": r"^(s\d+)_"},
    )
    result = logic.validate_form(logic.template_to_form(template, tmp_path / "x.json"))
    assert result.ok
    assert result.template == template


def test_choices_cover_the_paper_form():
    assert [label for label, _ in logic.IMAGE_TYPE_CHOICES] == ["JPG", "PNG", "BMP", "TIFF"]
    assert [label for label, _ in logic.COLOR_MODEL_CHOICES] == ["RGB", "GRAYSCALE", "BINARY"]
    assert logic.LAYOUT_CHOICES[1][0].endswith("(example1.png, example1_mask.png)")


def test_every_invalid_field_is_reported(tmp_path):
    values = _values(tmp_path, width=5, height=99999, mask_keyword="a/b", classes="only", train=0.9)
    result = logic.validate_form(values)
    assert result.template is None and not result.ok
    assert set(result.errors) == {"width", "height", "mask_keyword", "classes", "test"}
    assert "16 to 16384" in result.errors["width"]
    assert "path separators" in result.errors["mask_keyword"]
    assert "sum to 1" in result.errors["test"]


def test_group_pattern_and_mapping_errors(tmp_path):
    result = logic.validate_form(_values(tmp_path, group_pattern="(", mapping="255"))
    assert set(result.errors) == {"group_pattern", "mapping"}
    assert "regular expression" in result.errors["group_pattern"]


def test_parse_mapping():
    assert logic.parse_mapping("") is None
    assert logic.parse_mapping("0=1") == {"0": 1}
    assert logic.parse_mapping("#ff0000=2, #00ff00=1") == {"#ff0000": 2, "#00ff00": 1}
    assert logic.parse_mapping("255,0,0=2; 0,255,0=1") == {"255,0,0": 2, "0,255,0": 1}
    with pytest.raises(TemplateError, match="integer index"):
        logic.parse_mapping("1=x")


def test_generate_writes_only_when_valid(tmp_path):
    out = tmp_path / "sub" / "template.json"
    bad = logic.generate_settings(_values(tmp_path, width=3, output=str(out)))
    assert bad.path is None and not out.exists()
    good = logic.generate_settings(_values(tmp_path, width=320, image_type="bmp", output=str(out)))
    assert good.ok and good.path == out
    data = json.loads(out.read_text())
    assert data["width"] == 320 and data["image_type"] == "bmp"
    assert load_template(out) == good.template
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".part")]


def test_output_must_be_a_file(tmp_path):
    assert "output" in logic.validate_form(_values(tmp_path, output=" ")).errors
    assert (
        "directory" in logic.validate_form(_values(tmp_path, output=str(tmp_path))).errors["output"]
    )


def test_update_history_pads_late_metrics():
    history: dict[str, list[float]] = {}
    logic.update_history(history, {"loss": 1.0, "note": "text"})
    logic.update_history(history, {"loss": 0.5, "val_loss": 0.7})
    logic.update_history(history, None)
    assert history["loss"][:2] == [1.0, 0.5]
    assert np.isnan(history["val_loss"][0]) and history["val_loss"][1] == 0.7
    assert all(len(v) == 3 for v in history.values()) and "note" not in history


def test_select_curves_and_progress_text():
    history = {"loss": [1.0], "val_loss": [2.0], "dice": [0.1], "val_iou": [0.3]}
    assert set(logic.select_curves(history, ("loss", "dice"))) == {"loss", "val_loss", "dice"}
    text = logic.progress_text(3, 10, {"loss": 0.41234, "dice": 0.7, "x": "skip"})
    assert text == "epoch 3/10 - loss 0.4123 - dice 0.7"
    assert logic.progress_text(2, None, {}) == "epoch 2"


def test_figure_png():
    from segkit.viz import plot_history

    png = logic.figure_png(plot_history({"loss": [1.0, 0.5]}))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
