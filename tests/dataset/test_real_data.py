"""Integration tests on the real data sets in ../shared/data (see its README)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segkit.dataset import SourceLayout, inspect_dataset, load_pair, prepare_dataset
from segkit.imaging import read_image, read_mask, to_uint8
from segkit.template import ClassSpec, DatasetTemplate, SplitSpec

pytestmark = pytest.mark.shared_data

STARDIST = SourceLayout(image_pattern=r"img(.*)\.tif", mask_pattern=r"mask(.*)\.tif")


def prep(src: Path, dst: Path, template: DatasetTemplate, **kw):
    return prepare_dataset(src, dst, template, workers=2, progress=False, **kw)


def test_isbi_membrane_is_the_foreground(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "isbi2012-em"
    report = inspect_dataset(src)
    assert report.layout == "separate" and report.n_pairs == 30
    assert report.mask_encoding == "binary {0,255}"
    assert len(report.unrelated) == 30  # test/ images have no labels
    t = DatasetTemplate(height=256, width=256, color_model="grayscale",
                        classes=ClassSpec(mapping={"0": 1}))  # fmt: skip
    m = prep(src, tmp_path / "isbi", t).manifest
    assert len(m.pairs) == 30 and sum(m.counts.values()) == 30
    p = m.pair("0")
    assert p.source_image == "train/image/0.png" and p.scale == (0.5, 0.5)
    image, mask = load_pair(m, p)
    assert image.shape == (256, 256, 1)
    source = read_image(src / "train/label/0.png")
    membrane = float((source == 0).mean())
    assert 0.05 < membrane < 0.4  # the thin structure
    assert abs(float(mask.mean()) - membrane) < 0.03
    # Nearest neighbour: output pixel (r, c) is the class of source pixel (2r + 1, 2c + 1).
    np.testing.assert_array_equal(mask, (source[1::2, 1::2] == 0).astype(np.uint8))


def test_monuseg_tiff_and_01_masks(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "monuseg2018-train"
    report = inspect_dataset(src)
    assert report.layout == "separate" and report.mask_encoding == "binary {0,1}"
    assert report.image_formats == {"uint8 RGB tif": 30}
    t = DatasetTemplate(height=256, width=256,
                        split=SplitSpec(group_pattern=r"(TCGA-\w\w)-"))  # fmt: skip
    m = prep(src, tmp_path / "monuseg", t).manifest
    assert len(m.pairs) == 30
    parts: dict[str, set[str]] = {}
    for p in m.pairs:
        parts.setdefault(p.group, set()).add(p.split)
    assert all(len(v) == 1 for v in parts.values())  # a tissue source site in one part
    p = m.pairs[0]
    assert p.source_image.startswith("Tissue_Images/") and p.source_size == (1000, 1000)
    assert p.scale == (0.256, 0.256)
    assert set(np.unique(read_image(m.path(p.mask)))) == {0, 255}
    image, mask = load_pair(m, p)
    source = read_mask(src / p.source_mask)
    assert image.shape == (256, 256, 3)
    assert abs(float(mask.mean()) - float((source > 0).mean())) < 0.02


def test_kaggle_instance_files_are_merged(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "dsb2018-stage1-subset"
    report = inspect_dataset(src)
    assert report.layout == "kaggle" and report.n_pairs == 15
    assert "merged" in report.format()
    m = prep(src, tmp_path / "dsb", DatasetTemplate(height=256, width=256, fit="pad")).manifest
    assert len(m.pairs) == 15
    same_size = [p for p in m.pairs if p.source_size == (256, 256)]
    assert same_size
    for p in same_size[:2]:
        files = sorted((src / p.source_mask).glob("*.png"))
        union = np.zeros((256, 256), bool)
        for f in files:
            union |= read_image(f) > 0
        image, mask = load_pair(m, p)
        assert image.shape == (256, 256, 3)  # RGBA sources lose alpha
        np.testing.assert_array_equal(mask, union.astype(np.uint8))


def test_stardist_16bit_instance_labels(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "stardist-sample"
    report = inspect_dataset(src, STARDIST)
    assert report.n_pairs == 1 and report.mask_encoding.startswith("instance labels")
    assert report.image_formats == {"uint16 gray tif": 1}
    t = DatasetTemplate(height=256, width=256, color_model="grayscale", fit="tile")
    m = prep(src, tmp_path / "stardist", t, source_layout=STARDIST).manifest
    assert sorted(p.tile for p in m.pairs) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert len({p.split for p in m.pairs}) == 1
    raw = read_image(src / "img2d.tif")
    labels = read_mask(src / "mask2d.tif")
    assert raw.dtype == np.uint16 and labels.dtype == np.uint16
    expected = to_uint8(raw)
    for p in m.pairs:
        r, c = p.tile
        image, mask = load_pair(m, p)
        window = (slice(r * 256, (r + 1) * 256), slice(c * 256, (c + 1) * 256))
        np.testing.assert_array_equal(image[..., 0], expected[window])
        np.testing.assert_array_equal(mask, (labels[window] > 0).astype(np.uint8))
