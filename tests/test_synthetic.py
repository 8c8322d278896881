"""The built-in synthetic IHC-like data set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segkit.imaging import read_image
from segkit.synthetic import make_synthetic_dataset, make_synthetic_sample


def test_sample_is_seeded_and_consistent() -> None:
    a = make_synthetic_sample(64, 80, seed=3)
    b = make_synthetic_sample(64, 80, seed=3)
    c = make_synthetic_sample(64, 80, seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)
    assert a.image.shape == (64, 80, 3) and a.image.dtype == np.uint8
    assert a.labels.dtype == np.uint16 and a.labels.max() == a.positive.size > 0
    assert set(np.unique(a.mask)) == {0, 255}
    assert set(np.unique(a.class_mask)) <= {0, 1, 2}
    assert 0.0 <= a.labelling_index <= 1.0


def test_nuclei_are_darker_and_coloured() -> None:
    s = make_synthetic_sample(128, 128, seed=0, positive_fraction=0.5)
    nucleus, background = s.labels > 0, s.labels == 0
    assert s.image[nucleus].mean() < s.image[background].mean() - 40
    pos = np.isin(s.labels, np.flatnonzero(s.positive) + 1)
    neg = nucleus & ~pos
    # DAB is brown (red > blue), hematoxylin blue (blue > red).
    assert s.image[pos][:, 0].mean() > s.image[pos][:, 2].mean()
    assert s.image[neg][:, 2].mean() > s.image[neg][:, 0].mean()


@pytest.mark.parametrize(
    ("layout", "encoding", "values"),
    [("separate", "binary", {0, 255}), ("suffix", "binary01", {0, 1}),
     ("separate", "classes", {0, 1, 2})],
)  # fmt: skip
def test_dataset_layouts(tmp_path: Path, layout: str, encoding: str, values: set) -> None:
    out = make_synthetic_dataset(tmp_path, 3, height=40, width=40, layout=layout,
                                 mask_encoding=encoding, groups=2)  # fmt: skip
    if layout == "separate":
        masks = sorted((out / "masks").glob("*.png"))
        assert [p.name for p in masks][0] == "slide00_tile_0000.png"
        assert len(list((out / "images").iterdir())) == 3
    else:
        masks = sorted(out.glob("*_mask.png"))
    assert len(masks) == 3
    assert set(np.unique(read_image(masks[0]))) <= values


def test_instance_encoding_and_errors(tmp_path: Path) -> None:
    out = make_synthetic_dataset(tmp_path, 1, height=40, width=40, mask_encoding="instance",
                                 image_type="tif")  # fmt: skip
    assert read_image(out / "masks/tile_0000.png").dtype == np.uint16
    assert (out / "images/tile_0000.tif").is_file()
    with pytest.raises(ValueError, match="layout"):
        make_synthetic_dataset(tmp_path / "x", 1, layout="flat")
    with pytest.raises(ValueError, match="mask_encoding"):
        make_synthetic_dataset(tmp_path / "y", 1, mask_encoding="rle")
