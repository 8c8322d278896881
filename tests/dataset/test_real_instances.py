"""Instance labels and points from the real data sets in ../shared/data (see its README)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segkit.dataset import SourceLayout, inspect_dataset, load_pair, prepare_dataset
from segkit.dataset.pairs import load_instances, load_points
from segkit.dataset.verify import verify_dataset
from segkit.template import DatasetTemplate

pytestmark = pytest.mark.shared_data

STARDIST = SourceLayout(image_pattern=r"img(.*)\.tif", mask_pattern=r"mask(.*)\.tif")


def prep(src: Path, dst: Path, template: dict[str, Any], **kw: Any) -> Any:
    tmpl = DatasetTemplate.from_dict(template)
    return prepare_dataset(src, dst, tmpl, workers=2, progress=False, **kw)


def test_stardist_label_mask_gives_contiguous_instances(shared_data: Path, tmp_path: Path) -> None:
    report = prep(shared_data / "stardist-sample", tmp_path / "out",
                  {"height": 512, "width": 512, "color_model": "grayscale"},
                  source_layout=STARDIST)  # fmt: skip
    (pair,) = report.manifest.pairs
    labels = load_instances(report.manifest, pair)
    assert labels is not None and labels.dtype == np.uint16
    ids = np.unique(labels)
    assert list(ids) == list(range(int(labels.max()) + 1)) and labels.max() > 50
    _, mask = load_pair(report.manifest, pair)
    np.testing.assert_array_equal(mask > 0, labels > 0)


def test_dsb_kaggle_layout_gives_instances(shared_data: Path, tmp_path: Path) -> None:
    report = prep(shared_data / "dsb2018-stage1-subset", tmp_path / "out",
                  {"height": 256, "width": 256, "fit": "pad"})  # fmt: skip
    m = report.manifest
    assert report.layout == "kaggle" and len(m.pairs) == 15
    for pair in m.pairs:
        labels = load_instances(m, pair)
        assert labels is not None and labels.max() >= 1


def test_shidc_points_prepare_with_points_and_no_masks(shared_data: Path, tmp_path: Path) -> None:
    report = prep(shared_data / "ki67-shidc-sample", tmp_path / "out",
                  {"height": 614, "width": 614})  # fmt: skip
    m = report.manifest
    assert report.layout == "points" and len(m.pairs) == 26
    assert all(p.mask == "" and p.points and not p.instances for p in m.pairs)
    names = [n for p in m.pairs for n in load_points(m, p)[1]]
    assert set(names) == {"Positive", "Negative", "Lymphocyte"}
    xy, _ = load_points(m, m.pairs[0])
    assert xy.size and xy.min() >= 0 and xy.max() < 614
    assert verify_dataset(tmp_path / "out").ok


GLIOMA = {"height": 768, "width": 1024, "fit": "stretch",
          "classes": {"names": ["background", "negative", "positive"],
                      "mapping": {"1": 1, "2": 2}}}  # fmt: skip


@pytest.mark.slow
def test_glioma_labelbox_fields_give_classes_and_instances(
    shared_data: Path, tmp_path: Path
) -> None:
    report = prep(shared_data / "ki67-glioma-fields", tmp_path / "out", GLIOMA)
    m = report.manifest
    assert report.layout == "labelbox" and len(m.pairs) == 5
    assert len([s for s in m.skipped if "give the mask" in s.reason]) == 10
    total = 0
    for pair in m.pairs:
        _, mask = load_pair(m, pair)
        labels = load_instances(m, pair)
        assert labels is not None
        assert set(np.unique(mask)) == {0, 1, 2}
        total += int(labels.max())
    assert total > 2700  # 2,760 polygons; a few tiny ones vanish at a quarter of the size


@pytest.mark.slow
def test_monuseg_with_xml_folder_tiles(shared_data: Path, tmp_path: Path) -> None:
    layout = SourceLayout(annotations=str(shared_data / "monuseg2018-train-xml"))
    inspected = inspect_dataset(shared_data / "monuseg2018-train", layout, workers=2)
    assert inspected.n_pairs == 30
    assert sum(1 for p in inspected.pairs if p.get("annotations")) == 13
    start = time.perf_counter()
    report = prep(shared_data / "monuseg2018-train", tmp_path / "out",
                  {"height": 256, "width": 256, "fit": "tile"}, source_layout=layout)  # fmt: skip
    seconds = time.perf_counter() - start
    m = report.manifest
    assert len({p.source_image for p in m.pairs}) == 30 and all(p.mask for p in m.pairs)
    with_instances = {p.source_image for p in m.pairs if p.instances}
    assert len(with_instances) == 13
    pieces = sum(int(load_instances(m, p).max()) for p in m.pairs if p.instances)  # type: ignore[union-attr]
    print(f"MoNuSeg tile 256 with XML: {len(m.pairs)} tiles, {pieces} nuclei (pieces per "
          f"tile), {seconds:.1f} s")  # fmt: skip
    assert pieces > 4951  # 4,951 regions; nuclei cut by a tile edge count once per tile
    for p in m.pairs:
        if p.instances:
            _, mask = load_pair(m, p)
            labels = load_instances(m, p)
            assert labels is not None
            # the organisers' mask and the polygons agree closely (Dice 0.95-1.0)
            inter = np.logical_and(mask > 0, labels > 0).sum()
            assert 2 * inter >= 0.9 * ((mask > 0).sum() + (labels > 0).sum())
