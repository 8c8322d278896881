"""Optional parts of a prepared pair: instance labels and points, recorded in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from segkit.dataset.manifest import Manifest, ManifestError, PairRecord, compute_fingerprint
from segkit.dataset.pairs import load_instances, load_points
from segkit.template import DatasetTemplate

T = DatasetTemplate(height=16, width=16, target="instances")


def _manifest(root: Path, pair: PairRecord) -> Manifest:
    return Manifest(root=root, template=T, fingerprint="", source="", segkit_version="",
                    pairs=(pair,))  # fmt: skip


def test_semantic_pairs_keep_their_dict_and_fingerprint() -> None:
    plain = PairRecord("a", "train", "a", "train/images/a.png", "train/masks/a.png")
    assert "instances" not in plain.to_dict() and "points" not in plain.to_dict()
    with_parts = PairRecord.from_dict(
        {**plain.to_dict(), "instances": "train/instances/a.tif", "instances_sha256": "ab"}
    )
    assert with_parts.to_dict()["instances"] == "train/instances/a.tif"
    assert PairRecord.from_dict(with_parts.to_dict()) == with_parts
    assert compute_fingerprint(T, [plain]) != compute_fingerprint(T, [with_parts])
    assert compute_fingerprint(T, [plain]) == compute_fingerprint(
        T, [PairRecord.from_dict(plain.to_dict())]
    )


def test_load_instances_and_points(tmp_path: Path) -> None:
    labels = np.zeros((8, 8), np.uint16)
    labels[1:3, 1:3] = 7
    (tmp_path / "train" / "instances").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "train/instances/a.tif", labels)
    (tmp_path / "train/points").mkdir()
    (tmp_path / "train/points/a.json").write_text(
        json.dumps([{"x": 1.5, "y": 2.5, "class": "Positive"}])
    )
    pair = PairRecord("a", "train", "a", "i.png", "m.png", instances="train/instances/a.tif",
                      points="train/points/a.json")  # fmt: skip
    m = _manifest(tmp_path, pair)
    np.testing.assert_array_equal(load_instances(m, "a"), labels)
    xy, names = load_points(m, "a")
    assert xy.tolist() == [[1.5, 2.5]] and names == ("Positive",)
    bare = _manifest(tmp_path, PairRecord("b", "train", "b", "i.png", "m.png"))
    assert load_instances(bare, "b") is None and load_points(bare, "b")[0].shape == (0, 2)


def test_unreadable_instances_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.tif").write_bytes(b"not a tiff")
    m = _manifest(tmp_path, PairRecord("a", "train", "a", "i", "m", instances="bad.tif"))
    with pytest.raises(ManifestError, match="bad.tif"):
        load_instances(m, "a")
