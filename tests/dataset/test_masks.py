"""Source mask encodings to class indices, and the prepared encoding."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segkit.imaging import (
    decode_mask,
    describe_mask_values,
    encode_mask,
    labels_from_colours,
    mask_to_classes,
    mask_values,
    merge_masks,
    read_mask,
    write_image,
)
from segkit.template import ClassSpec

BINARY = ClassSpec()
FG = np.array([[0, 1, 1], [0, 0, 1]], bool)


@pytest.mark.parametrize(
    "mask",
    [
        FG.astype(np.uint8),  # {0,1}
        FG.astype(np.uint8) * 255,  # {0,255}
        np.array([[0, 7, 300], [0, 0, 65535]], np.uint16),  # instance labels
        np.array([[0, 2, 1], [0, 0, 3]], np.int32),
        np.dstack([FG * 255, FG * 0, FG * 10]).astype(np.uint8),  # colour
    ],
)
def test_default_binary_rule_is_nonzero(mask: np.ndarray) -> None:
    out = mask_to_classes(mask, BINARY)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, FG.astype(np.uint8))


def test_mapping_with_foreground_zero_as_in_isbi() -> None:
    mask = np.array([[0, 255, 255], [0, 0, 255]], np.uint8)  # 0 = membrane
    out = mask_to_classes(mask, ClassSpec(mapping={"0": 1}))
    np.testing.assert_array_equal(out, [[1, 0, 0], [1, 1, 0]])


def test_multiclass_mapping_unmapped_values_are_background() -> None:
    spec = ClassSpec(names=("bg", "neg", "pos"), mapping={"1": 1, "2": 2})
    mask = np.array([[0, 1, 2, 3, 2000]], np.uint16)
    np.testing.assert_array_equal(mask_to_classes(mask, spec), [[0, 1, 2, 0, 0]])


def test_rgb_colour_codes() -> None:
    spec = ClassSpec(names=("bg", "tumour", "stroma"), mapping={"#ff0000": 1, "0,255,0": 2})
    mask = np.zeros((2, 3, 3), np.uint8)
    mask[0, 0] = (255, 0, 0)
    mask[0, 1] = (0, 255, 0)
    mask[1, 2] = (0, 0, 255)  # unmapped colour
    np.testing.assert_array_equal(mask_to_classes(mask, spec), [[1, 2, 0], [0, 0, 0]])
    # A grey-level mask matches grey colours.
    grey = ClassSpec(mapping={"#808080": 1})
    np.testing.assert_array_equal(mask_to_classes(np.array([[128, 0]], np.uint8), grey), [[1, 0]])


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_palette_mask_keeps_indices() -> None:
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    im = Image.fromarray(idx, mode="P")
    im.putpalette([255, 255, 255, 255, 0, 0, 0, 255, 0] + [0] * 759)  # index 0 is white
    out = decode_mask(_png_bytes(im), "m.png")
    np.testing.assert_array_equal(out, idx)
    np.testing.assert_array_equal(mask_to_classes(out, BINARY), idx > 0)


def test_rgba_and_grey_as_rgb_masks(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[0, 1, :3] = 255
    write_image(tmp_path / "a.png", rgba)
    out = read_mask(tmp_path / "a.png")
    assert out.shape == (2, 3)  # alpha dropped, equal channels collapsed
    assert out[0, 1] == 255 and out.sum() == 255
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[1, 1] = (255, 0, 0)
    write_image(tmp_path / "b.png", rgb)
    assert read_mask(tmp_path / "b.png").shape == (2, 3, 3)


def test_16bit_mask_files(tmp_path: Path) -> None:
    labels = np.array([[0, 1000], [40000, 0]], np.uint16)
    for ext in (".png", ".tif"):
        write_image(tmp_path / f"m{ext}", labels)
        out = read_mask(tmp_path / f"m{ext}")
        assert out.dtype == np.uint16
        np.testing.assert_array_equal(out, labels)


def test_merge_masks_takes_the_maximum() -> None:
    a = np.array([[255, 0, 0]], np.uint8)
    b = np.array([[0, 0, 255]], np.uint8)
    np.testing.assert_array_equal(merge_masks([a, b]), [[255, 0, 255]])
    assert merge_masks([a]) is a  # one file: the mask itself
    with pytest.raises(ValueError, match="shapes differ"):
        merge_masks([a, np.zeros((2, 2), np.uint8)])


def test_encode_mask() -> None:
    classes = np.array([[0, 1, 2]], np.uint8)
    assert encode_mask(classes[:, :2], BINARY).tolist() == [[0, 255]]
    multi = ClassSpec(names=("a", "b", "c"), mapping={"1": 1, "2": 2})
    assert encode_mask(classes, multi).tolist() == [[0, 1, 2]]
    assert encode_mask(classes[:, :2], 2).tolist() == [[0, 255]]  # or the number of classes
    assert encode_mask(classes, 3).tolist() == [[0, 1, 2]]


def test_labels_from_colours_keep_black_as_background() -> None:
    mask = np.zeros((2, 3, 3), np.uint8)
    mask[0, 1] = (255, 0, 0)
    mask[1, 2] = (0, 0, 255)
    mask[1, 0] = (255, 0, 0)
    labels = labels_from_colours(mask)
    assert labels.dtype == np.int64
    assert labels[0, 0] == 0 and labels[0, 1] == labels[1, 0] != 0
    assert labels[1, 2] not in (0, labels[0, 1])


def test_mask_values_and_description() -> None:
    assert describe_mask_values(mask_values(FG.astype(np.uint8))) == "binary {0,1}"
    assert describe_mask_values(mask_values(FG.astype(np.uint8) * 255)) == "binary {0,255}"
    labels = np.arange(20, dtype=np.uint16).reshape(4, 5)
    assert describe_mask_values(mask_values(labels)).startswith("instance labels (19")
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    assert mask_values(colour) == ["#000000", "#ff0000"]
    assert describe_mask_values(mask_values(colour)).startswith("RGB colour codes")
