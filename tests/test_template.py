"""The dataset template: JSON round trip, the paper's form, and validation naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segkit.cli import main
from segkit.template import (
    ClassSpec,
    DatasetTemplate,
    SplitSpec,
    TemplateError,
    load_template,
    parse_template,
    save_template,
    template_from_paper,
)

PAPER = {"_token": "aZ09", "height": "512", "width": "512", "image_type": "2",
         "color_model": "1", "separate_file_format": "on", "description": "_mask"}  # fmt: skip


def test_defaults_and_round_trip(tmp_path: Path) -> None:
    t = DatasetTemplate(
        height=128, width=96, image_type="JPEG", color_model="Grey", layout="suffix",
        mask_keyword="_seg", fit="tile",
        classes=ClassSpec(names=("bg", "a", "b"), mapping={"#ff0000": 1, "2": 2}),
        split=SplitSpec(0.6, 0.2, 0.2, seed=3, group_pattern=r"(slide\d+)"),
    )  # fmt: skip
    assert t.image_type == "jpg" and t.color_model == "grayscale" and t.channels == 1
    assert t.size == (128, 96) and t.num_classes == 3
    assert DatasetTemplate.from_json(t.to_json()) == t
    save_template(t, tmp_path / "t.json")
    assert load_template(tmp_path / "t.json") == t
    assert json.loads((tmp_path / "t.json").read_text())["classes"]["mapping"] == {
        "#ff0000": 1, "2": 2,
    }  # fmt: skip
    assert DatasetTemplate().channels == 3 and DatasetTemplate().classes.is_binary
    assert t.mask_name("a") == "a_seg.png" and t.image_name("a") == "a.jpg"


def test_papers_form() -> None:
    t = parse_template(PAPER)
    assert (t.height, t.width, t.image_type, t.color_model, t.layout, t.mask_keyword) == (
        512, 512, "png", "rgb", "separate", "_mask",
    )  # fmt: skip
    same_dir = template_from_paper({"height": "64", "width": "32", "image_type": "1",
                                    "color_model": "3", "description": "-m"})  # fmt: skip
    assert (same_dir.layout, same_dir.image_type, same_dir.color_model) == (
        "suffix", "jpg", "binary",
    )  # fmt: skip
    assert same_dir.mask_keyword == "-m"


def test_isbi_mapping() -> None:
    spec = ClassSpec(mapping={"0": 1})
    assert spec.mapping == ((0, 1),) and spec.to_dict()["mapping"] == {"0": 1}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"height": 8}, "height"),
        ({"height": 20000}, "height"),
        ({"width": "wide"}, "width"),
        ({"width": True}, "width"),
        ({"image_type": "gif"}, "image_type"),
        ({"color_model": "cmyk"}, "color_model"),
        ({"layout": "mixed"}, "layout"),
        ({"fit": "zoom"}, "fit"),
        ({"mask_keyword": "masks/x"}, "mask_keyword"),
        ({"mask_keyword": "a\\b"}, "mask_keyword"),
        ({"mask_keyword": ".png"}, "mask_keyword"),
        ({"mask_keyword": ""}, "mask_keyword"),
        ({"split": {"train": 0.8, "val": 0.3, "test": 0.1}}, "split"),
        ({"split": {"train": 1.5, "val": 0, "test": 0}}, "split.train"),
        ({"split": {"seed": 1.5}}, "split.seed"),
        ({"split": {"group_pattern": "(unclosed"}}, "split.group_pattern"),
        ({"split": {"folds": 5}}, "split"),
        ({"classes": {"names": ["only"]}}, "classes.names"),
        ({"classes": {"names": ["a", "a"]}}, "classes.names"),
        ({"classes": {"names": ["a", "b", "c"]}}, "classes.mapping"),
        ({"classes": {"mapping": {"255": 2}}}, "classes.mapping"),
        ({"classes": {"mapping": {"red": 1}}}, "classes.mapping"),
        ({"classes": {"mapping": {"-1": 1}}}, "classes.mapping"),
        ({"classes": {"colours": {}}}, "classes"),
        ({"classes": "binary"}, "classes"),
        ({"schema_version": 2}, "schema_version"),
        ({"colour": "rgb"}, "colour"),
    ],
)
def test_invalid_values_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(data)
    msg = str(err.value)
    assert f"template field '{field}'" in msg
    assert "invalid value" in msg


@pytest.mark.parametrize(
    ("change", "field"),
    [({"image_type": "7"}, "image_type"), ({"color_model": "0"}, "color_model"),
     ({"height": "big"}, "height"), ({"token": "x"}, "token")],
)  # fmt: skip
def test_invalid_paper_values(change: dict, field: str) -> None:
    with pytest.raises(TemplateError, match=f"'{field}'"):
        parse_template({**PAPER, **change})


def test_load_template_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TemplateError, match="bad.json: not valid JSON"):
        load_template(bad)
    bad.write_text(json.dumps({"height": 1}))
    with pytest.raises(TemplateError, match=r"bad.json: template field 'height'"):
        load_template(bad)
    with pytest.raises(TemplateError, match="cannot read"):
        load_template(tmp_path / "missing.json")
    with pytest.raises(TemplateError, match="JSON object"):
        parse_template([1, 2])  # type: ignore[arg-type]


def test_template_command(tmp_path: Path, capsys) -> None:
    out = tmp_path / "t.json"
    assert main(["template", str(out), "--size", "64", "--color-model", "grayscale",
                 "--map", "0=1", "--split", "0.5", "0.25", "0.25", "--seed", "4"]) == 0  # fmt: skip
    t = load_template(out)
    assert t.size == (64, 64) and t.classes.mapping == ((0, 1),) and t.split.seed == 4
    assert main(["template", str(out)]) == 1  # exists
    (tmp_path / "paper.json").write_text(json.dumps(PAPER))
    capsys.readouterr()
    assert main(["template", "--check", str(tmp_path / "paper.json")]) == 0
    assert json.loads(capsys.readouterr().out)["layout"] == "separate"
    assert main(["template", "--size", "3"]) == 1
    assert "'height'" in capsys.readouterr().err


def test_mask_keyword_with_nul_or_control_characters_is_refused() -> None:
    for kw in ("_ma\x00sk", "_mask\n", "_m\x1bk"):
        with pytest.raises(TemplateError, match="mask_keyword"):
            DatasetTemplate(mask_keyword=kw)


def test_paper_form_without_keyword_for_one_folder_is_refused() -> None:
    form = {"height": "64", "width": "64", "image_type": "2", "color_model": "1"}
    for description in ("", "   ", None):
        data = dict(form) if description is None else {**form, "description": description}
        with pytest.raises(TemplateError, match="description"):
            parse_template(data)
    separate = parse_template({**form, "separate_file_format": "on", "description": ""})
    assert separate.layout == "separate" and separate.mask_keyword == "_mask"


def test_unreadable_template_files_name_the_file(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TemplateError, match="deep.json: nested too deeply"):
        load_template(deep)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"mask_keyword": "_máscara"}'.encode("latin-1"))
    with pytest.raises(TemplateError, match="latin.json: not UTF-8"):
        load_template(latin)


def test_huge_class_list_gives_a_short_message(tmp_path: Path) -> None:
    names = ["background"] + [f"c{i}" for i in range(5_000_000)]
    with pytest.raises(TemplateError) as info:
        ClassSpec(names=tuple(names))
    assert len(str(info.value)) < 500 and "5,000,001 items" in str(info.value)


def test_target_field(tmp_path: Path) -> None:
    t = DatasetTemplate(target="instances")
    assert DatasetTemplate.from_json(t.to_json()).target == "instances"
    assert DatasetTemplate().target == "semantic"
    with pytest.raises(TemplateError, match="target"):
        DatasetTemplate(target="cells")
    assert main(["template", str(tmp_path / "t.json"), "--target", "instances"]) == 0
    assert load_template(tmp_path / "t.json").target == "instances"


def test_mpp_round_trip_and_validation(tmp_path: Path) -> None:
    t = DatasetTemplate(fit="tile", mpp=0.5)
    assert t.to_dict()["mpp"] == 0.5
    save_template(t, tmp_path / "t.json")
    assert load_template(tmp_path / "t.json") == t
    assert "mpp" not in DatasetTemplate().to_dict()  # unset: the JSON (and fingerprints) unchanged
    for bad in (0, -1, "x", True, float("nan"), 5000):
        with pytest.raises(TemplateError, match="'mpp'"):
            DatasetTemplate(fit="tile", mpp=bad)
    with pytest.raises(TemplateError, match="'fit'.*'tile', which an mpp needs"):
        DatasetTemplate(mpp=0.5)


def test_cli_template_mpp_implies_tile(tmp_path: Path) -> None:
    assert main(["template", str(tmp_path / "t.json"), "--mpp", "0.5", "--size", "256"]) == 0
    t = load_template(tmp_path / "t.json")
    assert t.mpp == 0.5 and t.fit == "tile"
