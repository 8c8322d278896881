"""inspect_dataset and the `segkit inspect` / `segkit prepare` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segkit.cli import main
from segkit.dataset import discover_pairs, inspect_dataset, load_manifest
from segkit.imaging import write_image


def messy_source(root: Path, write_pair) -> Path:
    for i in range(4):
        write_pair(root / f"p{i}.png", root / f"p{i}_mask.png", i, encoding="instance")
    image, _ = write_pair(root / "dup.png", root / "dup_mask.png", 0)  # same pixels as p0
    write_image(root / "p0_overlay.png", image)
    (root / "broken.png").write_bytes(b"\x89PNG broken")
    (root / "broken_mask.png").write_bytes(b"\x89PNG broken")
    write_image(root / "big.png", np.zeros((20, 20, 3), np.uint8))
    write_image(root / "big_mask.png", np.zeros((10, 10), np.uint8))
    write_image(root / "lonely.tif", np.zeros((5, 5), np.uint16))
    write_image(root / "orphan_mask.png", np.zeros((5, 5), np.uint8))
    (root / "README.txt").write_text("notes")
    return root


def test_report_from_a_given_discovery(tmp_path: Path, write_pair) -> None:
    src = messy_source(tmp_path / "src", write_pair)
    given = inspect_dataset(src, workers=1, discovery=discover_pairs(src)).to_dict()
    searched = inspect_dataset(src, workers=1).to_dict()
    # decoder messages name a BytesIO object by its address, which differs between runs
    for report in (given, searched):
        report["unreadable"] = [u["file"] for u in report["unreadable"]]
    assert given == searched


def test_report(tmp_path: Path, write_pair) -> None:
    src = messy_source(tmp_path / "src", write_pair)
    r = inspect_dataset(src, workers=1)
    assert r.layout == "suffix" and r.mask_keyword == "_mask"
    assert {p["name"] for p in r.pairs} == {"p0", "p1", "p2", "p3", "dup", "broken", "big"}
    assert r.n_pairs == 5  # broken does not decode, big has a smaller mask
    assert r.images_without_mask == ("lonely.tif",)
    assert r.masks_without_image == ("orphan_mask.png",)
    assert [u["file"] for u in r.unrelated] == ["p0_overlay.png"]
    assert {u["file"] for u in r.unreadable} == {"broken.png", "broken_mask.png"}
    (mismatch,) = r.size_mismatches
    assert mismatch["name"] == "big" and mismatch["mask_size"] == [10, 10]
    assert r.duplicates == (("dup.png", "p0.png"),)
    assert r.mask_encoding.startswith("mixed: ") and "binary {0,255} (1)" in r.mask_encoding
    assert r.image_formats["uint8 RGB png"] == 6 and r.image_formats["uint16 gray tif"] == 1
    assert r.image_sizes["64x48"] == 5
    assert r.other_files == ("README.txt",)
    p1 = next(p for p in r.pairs if p["name"] == "p1")
    assert p1["image_size"] == [48, 64] and len(p1["mask_values"]) > 2
    text = r.format()
    for needle in ("layout: suffix", "images without a mask: 1", "p0_overlay.png",
                   "do not decode", "size mismatches", "duplicate images"):  # fmt: skip
        assert needle in text
    assert json.loads(r.to_json())["n_pairs"] == 5


def test_inspect_command(tmp_path: Path, write_pair, capsys) -> None:
    src = messy_source(tmp_path / "src", write_pair)
    assert main(["inspect", str(src), "--json", str(tmp_path / "r.json"), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "pairs found: 7 (5 usable)" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["layout"] == "suffix" and len(data["pairs"]) == 7
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["inspect", str(empty)]) == 1


def test_prepare_command_with_the_papers_template(tmp_path: Path, write_pair, capsys) -> None:
    src = tmp_path / "src"
    for i in range(5):
        write_pair(src / f"a{i}.png", src / f"a{i}_mask.png", i)
    paper = {"_token": "x", "height": "32", "width": "32", "image_type": "1",
             "color_model": "2", "separate_file_format": "on", "description": "_mask"}  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps(paper))
    argv = ["prepare", str(src), str(tmp_path / "dst"), "--template", str(tmp_path / "t.json"),
            "--no-progress", "--workers", "1", "--json", str(tmp_path / "rep.json")]  # fmt: skip
    assert main(argv) == 0
    assert "pairs: 5" in capsys.readouterr().out
    m = load_manifest(tmp_path / "dst")
    assert m.template.image_type == "jpg" and m.template.color_model == "grayscale"
    assert m.template.layout == "separate" and m.pairs[0].image.endswith(".jpg")
    assert json.loads((tmp_path / "rep.json").read_text())["pairs"] == 5
    assert main(argv) == 0  # up to date
    assert "up to date" in capsys.readouterr().out
    assert main(argv[:2] + [str(src / "inner")] + argv[3:]) == 1
    assert "inside the source" in capsys.readouterr().err
    argv_pattern = ["prepare", str(src), str(tmp_path / "d2"), "-t", str(tmp_path / "t.json"),
                    "--no-progress", "--image-pattern", r"a(\d)\.png", "--mask-pattern",
                    r"a(\d)_mask"]  # fmt: skip
    assert main(argv_pattern) == 0
    assert load_manifest(tmp_path / "d2").extra["source_layout"] == "pattern"


def test_mask_encoding_of_instance_labels(tmp_path: Path, write_pair) -> None:
    for i in range(2):
        write_pair(tmp_path / f"images/a{i}.png", tmp_path / f"masks/a{i}.png", i,
                   size=(96, 128), encoding="instance")  # fmt: skip
    r = inspect_dataset(tmp_path, workers=1)
    assert r.mask_encoding.startswith("instance labels (up to")
    assert r.n_pairs == 2 and max(r.mask_values) > 8
