"""The readers on the real annotation files in ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segkit.annotations import (
    find_degenerate,
    rasterize_classes,
    rasterize_instances,
    read_annotations,
    read_aperio_xml,
    read_labelbox,
    read_points,
)

pytestmark = pytest.mark.shared_data


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


@pytest.mark.slow
def test_every_monuseg_xml_matches_its_binary_mask(shared_data: Path) -> None:
    files = sorted((shared_data / "monuseg2018-train-xml").glob("*.xml"))
    assert len(files) == 13
    for path in files:
        found = read_aperio_xml(path)
        anns = found.annotations
        assert 250 <= len(anns) <= 600, path.name  # hundreds of nuclei per 1000x1000 image
        assert found.microns_per_pixel is None or 0.2 < found.microns_per_pixel < 0.3
        mask = np.array(Image.open(shared_data / f"monuseg2018-train/Binary_masks/{path.stem}.png"))
        labels = rasterize_instances(anns, mask.shape)
        assert labels.shape == (1000, 1000)
        drawn = len(np.unique(labels)) - 1
        assert drawn >= len(anns) - len(find_degenerate(anns)) - 2  # few hidden by overlaps
        assert dice(labels > 0, mask > 0) >= 0.99, path.name  # measured 0.996-1.000


def test_monuseg_without_the_centre_shift_agrees_less(shared_data: Path) -> None:
    path = shared_data / "monuseg2018-train-xml/TCGA-CH-5767-01Z-00-DX1.xml"
    mask = np.array(Image.open(shared_data / f"monuseg2018-train/Binary_masks/{path.stem}.png")) > 0
    shifted = rasterize_instances(read_aperio_xml(path).annotations, mask.shape) > 0
    raw = read_aperio_xml(path, pixel_centres=False).annotations
    as_written = rasterize_instances(raw, mask.shape) > 0
    assert dice(shifted, mask) > dice(as_written, mask) + 0.02


def test_labelbox_glioma_fields_match_their_masks(shared_data: Path) -> None:
    root = shared_data / "ki67-glioma-fields"
    found = read_labelbox(root / "polygons_labelbox.json")
    assert sorted(found) == sorted(f"{p.name}.jpg" for p in root.iterdir() if p.is_dir())
    classes = {"Positive": 1, "Negative": 2}
    for image, anns in found.items():
        field = root / Path(image).stem  # folder names contain spaces: "1309620 -A2-28"
        counts = {c: sum(a.class_name == c for a in anns) for c in classes}
        assert counts["Positive"] >= 30 and counts["Negative"] >= 200, (image, counts)
        shape = Image.open(field / "original.jpg").size[::-1]
        drawn = rasterize_classes(anns, shape, classes)
        for name, value in classes.items():
            mask = np.array(Image.open(field / f"mask_{name.lower()}.png")) > 0
            assert mask.shape == drawn.shape
            assert dice(drawn == value, mask) >= 0.93, (image, name)  # measured 0.950-0.985


def test_shidc_points_load_with_their_class_counts(shared_data: Path) -> None:
    folder = shared_data / "ki67-shidc-sample/points"
    files = sorted(folder.glob("*.json"))
    assert len(files) == 26
    for path in files:
        points = read_points(path)
        raw = json.loads(path.read_text())
        expected = {
            name: sum(p["label_id"] == i for p in raw)
            for i, name in ((1, "Positive"), (2, "Negative"), (3, "Lymphocyte"))
        }
        counts = points.counts()
        assert {k: counts.get(k, 0) for k in expected} == expected
        assert points.coords.shape == (len(raw), 2)
        assert ((points.coords >= 0) & (points.coords < 1228)).all()
    few = read_points(folder / "p1_0310_8.json").counts()
    assert few.get("Positive", 0) + few.get("Negative", 0) < 10  # as the data README says
    assert len(read_annotations(files[0])) == len(json.loads(files[0].read_text()))
