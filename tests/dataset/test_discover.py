"""Pair discovery in every source layout; nothing paired by guesswork."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segkit.dataset import SourceLayout, discover_pairs
from segkit.imaging import write_image

IMG = np.full((8, 8, 3), 100, np.uint8)
MASK = np.zeros((8, 8), np.uint8)


def touch(root: Path, *names: str) -> None:
    for n in names:
        p = root / n
        write_image(p, MASK if "mask" in n.lower() or "label" in n.lower() else IMG)


def pairs_of(d) -> set[tuple[str, tuple[str, ...]]]:
    return {(p.image, p.masks) for p in d.pairs}


@pytest.mark.parametrize(
    ("img_dir", "mask_dir"),
    [("images", "masks"), ("image", "label"), ("Tissue_Images", "Binary_masks"),
     ("imgs", "labels")],
)  # fmt: skip
def test_separate_known_folder_names(tmp_path: Path, img_dir: str, mask_dir: str) -> None:
    touch(tmp_path, f"{img_dir}/a.png", f"{img_dir}/b.jpg", f"{mask_dir}/a.png",
          f"{mask_dir}/b.png", f"{img_dir}/c.png", f"{mask_dir}/d.png")  # fmt: skip
    d = discover_pairs(tmp_path)
    assert d.layout == "separate"
    assert pairs_of(d) == {
        (f"{img_dir}/a.png", (f"{mask_dir}/a.png",)),
        (f"{img_dir}/b.jpg", (f"{mask_dir}/b.png",)),
    }
    assert d.images_without_mask == (f"{img_dir}/c.png",)
    assert d.masks_without_image == (f"{mask_dir}/d.png",)


def test_separate_mask_with_keyword_and_nested_folders(tmp_path: Path) -> None:
    touch(tmp_path, "train/images/x/a.png", "train/masks/x/a_mask.png", "train/images/b.tif",
          "train/masks/b.png", "test/images/a.png", "test/masks/a.png")  # fmt: skip
    d = discover_pairs(tmp_path)
    assert pairs_of(d) == {
        ("train/images/x/a.png", ("train/masks/x/a_mask.png",)),
        ("train/images/b.tif", ("train/masks/b.png",)),
        ("test/images/a.png", ("test/masks/a.png",)),
    }
    # Two sources share the stem "a": names are made unique.
    names = [p.name for p in d.pairs]
    assert len(set(names)) == 3 and "b" in names
    assert all(n.startswith("a_") for n in names if n != "b")


def test_user_named_folders_override_detection(tmp_path: Path) -> None:
    touch(tmp_path, "raw_scans/p1.png", "expert/p1.png", "images/q.png", "masks/q.png")
    auto = discover_pairs(tmp_path)
    assert pairs_of(auto) == {("images/q.png", ("masks/q.png",))}
    d = discover_pairs(tmp_path, SourceLayout(image_dir="raw_scans", mask_dir="expert"))
    assert d.layout == "separate"
    assert pairs_of(d) == {("raw_scans/p1.png", ("expert/p1.png",))}
    assert {u.file for u in d.unrelated} == {"images/q.png", "masks/q.png"}
    with pytest.raises(FileNotFoundError, match="nope"):
        discover_pairs(tmp_path, SourceLayout(image_dir="nope", mask_dir="expert"))


def test_suffix_layout_and_unrelated_files(tmp_path: Path) -> None:
    touch(tmp_path, "a.png", "a_mask.png", "a_overlay.png", "b.jpg", "b_mask.png", "c.png",
          "d_mask.png", "sub/e.bmp", "sub/e_mask.png")  # fmt: skip
    (tmp_path / "notes.txt").write_text("not an image")
    d = discover_pairs(tmp_path)
    assert d.layout == "suffix"
    assert pairs_of(d) == {
        ("a.png", ("a_mask.png",)),
        ("b.jpg", ("b_mask.png",)),
        ("sub/e.bmp", ("sub/e_mask.png",)),
    }
    assert d.images_without_mask == ("c.png",)
    assert d.masks_without_image == ("d_mask.png",)
    (overlay,) = d.unrelated
    assert overlay.file == "a_overlay.png" and "neither an image nor a mask" in overlay.reason
    assert d.other_files == ("notes.txt",)


def test_suffix_ambiguous_images_are_not_paired(tmp_path: Path) -> None:
    touch(tmp_path, "a.png", "a.jpg", "a_mask.png", "b.png", "b_mask.png")
    d = discover_pairs(tmp_path)
    assert pairs_of(d) == {("b.png", ("b_mask.png",))}
    assert {u.file for u in d.unrelated} == {"a.png", "a.jpg", "a_mask.png"}
    assert all("ambiguous" in u.reason for u in d.unrelated)


def test_custom_keyword(tmp_path: Path) -> None:
    touch(tmp_path, "a.png", "a-label.png", "b.png", "b-label.png")
    d = discover_pairs(tmp_path, SourceLayout(layout="suffix", mask_keyword="-label"))
    assert pairs_of(d) == {("a.png", ("a-label.png",)), ("b.png", ("b-label.png",))}
    d2 = discover_pairs(tmp_path, mask_keyword="-label")
    assert d2.layout == "suffix" and len(d2.pairs) == 2
    # Common keywords are recognised without being named.
    d3 = discover_pairs(tmp_path)
    assert d3.mask_keyword == "-label" and len(d3.pairs) == 2
    d4 = discover_pairs(tmp_path, SourceLayout(mask_keyword="_mask"))
    assert d4.pairs == ()


def test_nnunet_layout(tmp_path: Path) -> None:
    touch(tmp_path, "Dataset001/imagesTr/case1_0000.png", "Dataset001/imagesTr/case1_0001.png",
          "Dataset001/labelsTr/case1.png", "Dataset001/imagesTr/case2_0000.png",
          "Dataset001/labelsTr/case2.png", "Dataset001/imagesTs/case9_0000.png")  # fmt: skip
    d = discover_pairs(tmp_path)
    assert d.layout == "nnunet"
    assert pairs_of(d) == {
        ("Dataset001/imagesTr/case1_0000.png", ("Dataset001/labelsTr/case1.png",)),
        ("Dataset001/imagesTr/case2_0000.png", ("Dataset001/labelsTr/case2.png",)),
    }
    assert [p.name for p in d.pairs] == ["case1", "case2"]
    assert d.images_without_mask == ("Dataset001/imagesTs/case9_0000.png",)
    assert [u.file for u in d.unrelated] == ["Dataset001/imagesTr/case1_0001.png"]


def test_kaggle_layout_merges_object_masks(tmp_path: Path) -> None:
    touch(tmp_path, "stage1/id1/images/id1.png", "stage1/id1/masks/m1.png",
          "stage1/id1/masks/m2.png", "stage1/id2/images/id2.png", "stage1/id2/masks/m1.png",
          "stage1/id3/images/id3.png")  # fmt: skip
    d = discover_pairs(tmp_path)
    assert d.layout == "kaggle"
    by_name = {p.name: p for p in d.pairs}
    assert set(by_name) == {"id1", "id2"}
    assert by_name["id1"].masks == ("stage1/id1/masks/m1.png", "stage1/id1/masks/m2.png")
    assert by_name["id1"].source_mask == "stage1/id1/masks"
    assert d.images_without_mask == ("stage1/id3/images/id3.png",)


def test_pattern_layout(tmp_path: Path) -> None:
    touch(tmp_path, "img2d.tif", "mask2d.tif", "img3d.tif")
    assert discover_pairs(tmp_path).pairs == ()
    d = discover_pairs(
        tmp_path, SourceLayout(image_pattern=r"img(.*)\.tif", mask_pattern=r"mask(.*)\.tif")
    )
    assert d.layout == "pattern"
    assert pairs_of(d) == {("img2d.tif", ("mask2d.tif",))}
    assert d.images_without_mask == ("img3d.tif",)


def test_no_pairs_lists_every_file(tmp_path: Path) -> None:
    touch(tmp_path, "x.png", "y.png")
    d = discover_pairs(tmp_path)
    assert d.layout == "none" and d.pairs == ()
    assert [u.file for u in d.unrelated] == ["x.png", "y.png"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"layout": "flat"}, "layout"),
        ({"image_dir": "a"}, "mask_dir"),
        ({"image_pattern": "(a"}, "mask_pattern"),
        ({"image_pattern": "(a", "mask_pattern": "b(.*)"}, "image_pattern"),
        ({"image_pattern": "a", "mask_pattern": "b(.*)"}, "image_pattern"),
        ({"mask_keyword": "a/b"}, "mask_keyword"),
        ({"layout": "pattern"}, "image_pattern"),
        ({"layout": "suffix", "image_dir": "a", "mask_dir": "b"}, "layout"),
    ],
)
def test_source_layout_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"'{field}'"):
        SourceLayout(**kwargs)


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        discover_pairs(tmp_path / "missing")
