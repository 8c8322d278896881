"""benchmarks/monuseg_organs.py: the organ table, the folds and the figures of a fold run."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from support import REPO_ROOT


def _organs():
    spec = importlib.util.spec_from_file_location(
        "monuseg_organs", REPO_ROOT / "benchmarks" / "monuseg_organs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_organ_from_the_tissue_source_site():
    m = _organs()
    assert m.organ_of("TCGA-18-5592-01Z-00-DX1.tif") == "lung"
    assert m.organ_of("TCGA-G9-6336-01Z-00-DX1") == "prostate"
    assert m.organ_of("some/dir/TCGA-RD-A8N9-01A-01-TS1.png") == "stomach"
    with pytest.raises(m.OrganError, match=r"TCGA-ZZ-1\.tif: tissue-source site 'ZZ'"):
        m.organ_of("TCGA-ZZ-1.tif")
    with pytest.raises(m.OrganError, match="not a TCGA file name"):
        m.organ_of("slide_1.tif")


@pytest.mark.shared_data
def test_every_monuseg_training_image_maps(shared_data):
    groups = _organs().images_by_organ(shared_data / "monuseg2018-train")
    counts = {organ: len(stems) for organ, stems in groups.items()}
    assert sum(counts.values()) == 30
    assert counts == {"lung": 6, "breast": 6, "colon": 2, "kidney": 6, "prostate": 6,
                      "bladder": 2, "liver": 1, "stomach": 1}  # fmt: skip


def test_an_unknown_site_stops_the_grouping(tmp_path):
    m = _organs()
    (tmp_path / "Tissue_Images").mkdir()
    for name in ("TCGA-18-1.tif", "TCGA-Q1-2.tif"):
        (tmp_path / "Tissue_Images" / name).write_bytes(b"")
    with pytest.raises(m.OrganError, match="TCGA-Q1-2: tissue-source site 'Q1'"):
        m.images_by_organ(tmp_path)
    with pytest.raises(m.OrganError, match="no .tif images"):
        m.images_by_organ(tmp_path / "Tissue_Images")


def test_folds_from_the_command_line():
    m = _organs()
    present = ["lung", "breast", "liver", "stomach"]
    assert m.parse_folds(None, present) == [("lung",), ("breast",), ("liver",), ("stomach",)]
    assert m.parse_folds("Lung, liver+stomach", present) == [("lung",), ("liver", "stomach")]
    for bad, why in (("lung,brain", "'brain' is not an organ"), ("lung,lung", "held out twice"),
                     ("lung,,liver", "an empty fold")):  # fmt: skip
        with pytest.raises(m.OrganError, match=why):
            m.parse_folds(bad, present)


def test_stem_pattern_matches_only_its_stems():
    pattern = re.compile(
        _organs().stem_pattern(["TCGA-18-a", "TCGA-A7.b"], "Tissue_Images", ".tif")
    )
    assert pattern.search("Tissue_Images/TCGA-18-a.tif").group("key") == "TCGA-18-a"
    assert pattern.search("Tissue_Images/TCGA-A7.b.tif")
    assert not pattern.search("Tissue_Images/TCGA-A7xb.tif")  # the dot is literal
    assert not pattern.search("Binary_masks/TCGA-18-a.tif")
    assert not pattern.search("Tissue_Images/TCGA-18-a.tif.bak")


def test_dice_and_the_summary_of_a_fold_run():
    m = _organs()
    truth = np.zeros((4, 4), bool)
    truth[:2] = True
    pred = np.zeros((4, 4), bool)
    pred[:1] = True
    assert m.dice(pred, truth) == (2 * 4 / 12, 4, 12)
    assert m.dice(np.zeros(3, bool), np.zeros(3, bool))[0] == 1.0
    rows = [
        {"image": "a", "organ": "lung", "d": 0.9, "d_inter": 45, "d_total": 100},
        {"image": "b", "organ": "lung", "d": 0.5, "d_inter": 5, "d_total": 20},
        {"image": "c", "organ": "liver", "d": 0.8, "d_inter": 40, "d_total": 100},
    ]
    s = m.summarise(rows, "d")
    assert s["images"] == 3
    assert s["dice_mean_per_image"] == pytest.approx(2.2 / 3)
    assert s["dice_pooled"] == pytest.approx(2 * 90 / 220)
    assert s["per_organ"]["lung"]["dice_pooled"] == pytest.approx(2 * 50 / 120)
    assert s["dice_mean_over_organs"] == pytest.approx((0.7 + 0.8) / 2)
    assert s["worst_organ"]["organ"] == "lung"
    assert s["worst_image"] == {"image": "b", "organ": "lung", "dice": 0.5}
