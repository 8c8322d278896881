from __future__ import annotations

import json

import pytest
from support import require_module

require_module("ipywidgets", "the notebooks extra: pip install -e '.[notebooks]'")

from segkit.template import DatasetTemplate, load_template  # noqa: E402
from segkit.widgets import TemplateForm  # noqa: E402


def test_click_writes_the_json_that_was_asked(tmp_path):
    out = tmp_path / "template.json"
    form = TemplateForm(out)
    form.set_values(
        width=512,
        height=384,
        image_type="jpg",
        color_model="grayscale",
        layout="suffix",
        mask_keyword="_seg",
        fit="pad",
        train=0.7,
        val=0.15,
        test=0.15,
        seed=7,
    )
    form.button.click()
    data = json.loads(out.read_text())
    assert (data["width"], data["height"]) == (512, 384)
    assert (data["image_type"], data["color_model"], data["layout"]) == (
        "jpg",
        "grayscale",
        "suffix",
    )
    assert (data["mask_keyword"], data["fit"]) == ("_seg", "pad")
    assert data["split"] == {
        "train": 0.7,
        "val": 0.15,
        "test": 0.15,
        "seed": 7,
        "group_pattern": None,
    }
    assert form.template == load_template(out)
    assert "&quot;mask_keyword&quot;: &quot;_seg&quot;" in form.preview.value
    assert "wrote" in form.status.value
    assert all(err.value == "" for err in form.errors.values())


def test_invalid_values_are_shown_beside_the_field_and_nothing_written(tmp_path):
    out = tmp_path / "template.json"
    form = TemplateForm(out)
    form.set_values(width=8, mask_keyword="x/y")
    form.button.click()
    assert not out.exists()
    assert form.template is None
    assert "16 to 16384" in form.errors["width"].value
    assert "path separators" in form.errors["mask_keyword"].value
    assert form.errors["height"].value == ""
    assert "2 fields to fix" in form.status.value and "nothing was written" in form.status.value
    form.set_values(width=64, mask_keyword="_m")  # fixing them clears the errors
    form.button.click()
    assert out.exists() and form.errors["width"].value == ""


def test_initial_values_and_unknown_field(tmp_path):
    template = DatasetTemplate(width=64, height=32, image_type="tif", layout="suffix")
    form = TemplateForm(tmp_path / "t.json", template=template)
    values = form.values()
    assert (values["width"], values["height"], values["image_type"]) == (64, 32, "tif")
    assert form.inputs["layout"].label.startswith("Original images and masks in the same")
    with pytest.raises(KeyError, match="colour"):
        form.set_values(colour="red")
    assert "application/vnd.jupyter.widget-view+json" in form._repr_mimebundle_()
