"""Each source layout unit on its own (file lists in, pairs out), and the registry."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import segkit.dataset.layouts as layouts_pkg
from segkit.dataset import SourceLayout
from segkit.dataset.discover import SOURCE_LAYOUTS
from segkit.dataset.layouts import (
    AUTO,
    LAYOUTS,
    Found,
    Layout,
    Request,
    get_layout,
    kaggle,
    layout_names,
    nnunet,
    pattern,
    separate,
    suffix,
)

ROOT = Path("/nonexistent-source")


def pairs_of(found: Found) -> set[tuple[str, tuple[str, ...]]]:
    return {(image, masks) for image, masks, _, _ in found.pairs}


def test_separate_pairs_by_path_below_the_folders() -> None:
    files = ["images/x/a.png", "masks/x/a_mask.png", "images/b.png", "masks/b.png",
             "images/c.png", "masks/d.png", "notes/e.png"]  # fmt: skip
    found = separate.find(files, Request(ROOT))
    assert pairs_of(found) == {
        ("images/x/a.png", ("masks/x/a_mask.png",)),
        ("images/b.png", ("masks/b.png",)),
    }
    assert found.images_without_mask == ["images/c.png"]
    assert found.masks_without_image == ["masks/d.png"]
    assert [u.file for u in found.unrelated] == ["notes/e.png"]
    assert separate.folder_pairs(["Tissue_Images/a.tif", "Binary_masks/a.png"]) == [
        ("Tissue_Images", "Binary_masks")
    ]


def test_separate_named_folders_must_exist(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "expert").mkdir()
    request = Request(tmp_path, image_dir="scans", mask_dir="expert")
    found = separate.find(["scans/p.png", "expert/p.png", "images/q.png"], request)
    assert pairs_of(found) == {("scans/p.png", ("expert/p.png",))}
    with pytest.raises(FileNotFoundError, match="nope"):
        separate.find([], Request(tmp_path, image_dir="nope", mask_dir="expert"))


def test_suffix_keyword_named_or_guessed() -> None:
    files = ["a.png", "a-label.png", "b.png", "b-label.png", "b_overlay.png"]
    assert suffix.find(files, Request(ROOT, keyword="_mask", keyword_named=True)).pairs == []
    found = suffix.find(files, Request(ROOT, keyword="_mask", keyword_named=False))
    assert found.keyword == "-label"
    assert pairs_of(found) == {("a.png", ("a-label.png",)), ("b.png", ("b-label.png",))}
    assert [u.file for u in found.unrelated] == ["b_overlay.png"]


def test_suffix_ambiguous_images_are_unrelated() -> None:
    found = suffix.find_with_keyword(["a.png", "a.jpg", "a_mask.png"], "_mask")
    assert found.pairs == [] and {u.file for u in found.unrelated} == {
        "a.png",
        "a.jpg",
        "a_mask.png",
    }


def test_nnunet_reads_channel_0000() -> None:
    files = ["D/imagesTr/c1_0000.png", "D/imagesTr/c1_0001.png", "D/labelsTr/c1.png",
             "D/imagesTr/bad.png", "D/labelsTr/c2.png", "other/x.png"]  # fmt: skip
    found = nnunet.find(files, Request(ROOT))
    assert found.pairs == [("D/imagesTr/c1_0000.png", ("D/labelsTr/c1.png",), None, "c1")]
    assert found.masks_without_image == ["D/labelsTr/c2.png"]
    assert {u.file for u in found.unrelated} == {
        "D/imagesTr/c1_0001.png",
        "D/imagesTr/bad.png",
        "other/x.png",
    }
    assert [u.file for u in nnunet.find(["a.png"], Request(ROOT)).unrelated] == ["a.png"]


def test_kaggle_gathers_object_masks() -> None:
    files = ["s/id1/images/id1.png", "s/id1/masks/m2.png", "s/id1/masks/m1.png",
             "s/id2/images/id2.png", "loose.png"]  # fmt: skip
    found = kaggle.find(files, Request(ROOT))
    assert found.pairs == [
        ("s/id1/images/id1.png", ("s/id1/masks/m1.png", "s/id1/masks/m2.png"), "s/id1/masks",
         "id1")
    ]  # fmt: skip
    assert found.images_without_mask == ["s/id2/images/id2.png"]
    assert [u.file for u in found.unrelated] == ["loose.png"]


def test_pattern_pairs_by_key() -> None:
    request = Request(ROOT, image_pattern=r"img(.*)\.tif", mask_pattern=r"mask(?P<key>.*)\.tif")
    found = pattern.find(["img1.tif", "mask1.tif", "img2.tif", "x.tif"], request)
    assert pairs_of(found) == {("img1.tif", ("mask1.tif",))}
    assert found.images_without_mask == ["img2.tif"]
    assert [u.reason for u in found.unrelated] == ["matches neither pattern"]
    with pytest.raises(ValueError, match="image_pattern"):
        pattern.find([], Request(ROOT))


def test_registry_lists_every_layout_module() -> None:
    modules = {m.name for m in pkgutil.iter_modules(layouts_pkg.__path__)} - {"base"}
    assert (
        set(LAYOUTS)
        == modules
        == {
            "separate",
            "suffix",
            "nnunet",
            "kaggle",
            "pattern",
            "points",
            "slides",
            "polygons",
            "labelbox",
        }  # fmt: skip
    )
    assert all(isinstance(unit, Layout) and unit.summary for unit in LAYOUTS.values())
    assert layout_names() == SOURCE_LAYOUTS == (AUTO, *LAYOUTS)
    # auto tries these, in this order (the first wins a tie)
    assert [n for n, u in LAYOUTS.items() if u.detect] == [
        "kaggle",
        "nnunet",
        "separate",
        "suffix",
        "points",
        "slides",
        "polygons",
        "labelbox",
    ]
    assert get_layout("suffix") is suffix.LAYOUT
    with pytest.raises(KeyError, match="known: kaggle"):
        get_layout("flat")


def test_layout_options_select_their_layout() -> None:
    assert SourceLayout(image_dir="a", mask_dir="b").resolved == "separate"
    assert SourceLayout(image_pattern="a(.*)", mask_pattern="b(.*)").resolved == "pattern"
    assert SourceLayout(layout="kaggle").resolved == "kaggle"
    request = SourceLayout(mask_keyword="-seg").request(ROOT, "_mask")
    assert (request.keyword, request.keyword_named) == ("-seg", True)
    request = SourceLayout().request(ROOT, "_mask")
    assert (request.keyword, request.keyword_named) == ("_mask", False)
