"""Image reading and writing: formats, bit depths, limits, atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segkit.files import atomic_path, atomic_write_text, sha256_file
from segkit.imaging import (
    ImageReadError,
    decode_image,
    encode_image,
    image_size,
    read_image,
    to_channels,
    to_rgb,
    to_uint8,
    write_image,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 255, (12, 10, 3)).astype(np.uint8)
GREY = RGB[..., 0].copy()
RGBA = np.dstack([RGB, np.full((12, 10), 200, np.uint8)])


CASES = [(ext, a) for ext in (".png", ".bmp", ".tif") for a in ("rgb", "grey", "rgba")]


@pytest.mark.parametrize(
    ("ext", "kind"),
    [c for c in CASES if c != (".bmp", "rgba")],  # BMP has no alpha
)
def test_lossless_round_trip(tmp_path: Path, ext: str, kind: str) -> None:
    array = {"rgb": RGB, "grey": GREY, "rgba": RGBA}[kind]
    path = write_image(tmp_path / f"x{ext}", array)
    out = read_image(path)
    np.testing.assert_array_equal(out, array)
    assert image_size(path) == array.shape[:2]


def test_jpeg_is_close(tmp_path: Path) -> None:
    flat = np.full((16, 16, 3), 120, np.uint8)
    out = read_image(write_image(tmp_path / "x.jpg", flat))
    assert out.shape == flat.shape and np.abs(out.astype(int) - 120).max() <= 2


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16_bit(tmp_path: Path, ext: str) -> None:
    a = RNG.integers(0, 65535, (9, 7)).astype(np.uint16)
    out = read_image(write_image(tmp_path / f"x{ext}", a))
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, a)


def test_palette_expands_to_rgb(tmp_path: Path) -> None:
    im = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    im.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out.shape == (2, 2, 3)
    assert out[0, 1].tolist() == [200, 100, 50]


def test_lzw_tiff_reads_without_extra_codecs(tmp_path: Path) -> None:
    Image.fromarray(RGB).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(read_image(tmp_path / "lzw.tif"), RGB)


def test_multichannel_16bit_tiff_uses_tifffile(tmp_path: Path) -> None:
    a = RNG.integers(0, 65535, (6, 5, 3)).astype(np.uint16)
    out = read_image(write_image(tmp_path / "x.tif", a))
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, a)


def test_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ImageReadError, match=r"bad\.png: does not decode"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="header"):
        image_size(tmp_path / "bad.png")
    write_image(tmp_path / "big.png", np.zeros((100, 100), np.uint8))
    with pytest.raises(ImageReadError, match="exceeds the limit of 9,999 pixels"):
        read_image(tmp_path / "big.png", max_pixels=9_999)
    data = (tmp_path / "big.png").read_bytes()
    assert decode_image(data, "big.png", max_pixels=None).shape == (100, 100)
    with pytest.raises(ValueError, match="unknown image suffix"):
        encode_image(GREY, ".gif")


def test_to_uint8() -> None:
    assert to_uint8(GREY) is GREY
    a = np.linspace(1000, 2000, 1001).astype(np.uint16)
    out = to_uint8(a)
    assert out.dtype == np.uint8 and out[0] == 0 and out[-1] == 255
    assert np.all(np.diff(out.astype(int)) >= 0)  # monotonic
    spike = np.zeros(10_000, np.uint16)
    spike[:5] = 60000  # 0.05 % outliers do not squash the rest
    spike[5:] = np.arange(9995) % 100
    assert to_uint8(spike)[5:].max() == 255
    assert not to_uint8(np.full((3, 3), 7, np.uint16)).any()
    mid = to_uint8(np.array([0.0, 0.5, 1.0]))
    assert mid[0] == 0 and mid[2] == 255 and mid[1] in (127, 128)


def test_atomic_writes(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "one")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]
    mode = stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert sha256_file(target) == (
        "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed"
    )


def test_to_channels_gives_exactly_one_or_three() -> None:
    assert to_channels(GREY, 3).shape == (12, 10, 3)
    np.testing.assert_array_equal(to_channels(GREY, 3)[..., 2], GREY)
    np.testing.assert_array_equal(to_channels(RGBA, 3), RGB)
    assert to_channels(RGB, 1).shape == (12, 10, 1)
    np.testing.assert_array_equal(to_channels(GREY[..., None], 1)[..., 0], GREY)
    assert to_channels(GREY.astype(np.uint16) * 100, 1).dtype == np.uint8
    with pytest.raises(ValueError, match="C in 1, 3, 4"):
        to_channels(RGBA[..., :2], 3)


def test_to_rgb_shows_bool_and_unit_floats() -> None:
    np.testing.assert_array_equal(to_rgb(np.array([[True, False]]))[0, :, 0], [255, 0])
    np.testing.assert_array_equal(to_rgb(np.array([[0.0, 1.0]]))[0, :, 1], [0, 255])
    np.testing.assert_array_equal(to_rgb(RGBA), RGB)


def test_default_pixel_limit_is_at_most_pillows_warning_level(tmp_path: Path) -> None:
    from segkit.imaging import DEFAULT_MAX_PIXELS

    assert DEFAULT_MAX_PIXELS <= 1024 * 1024 * 1024 // 4 // 3  # Pillow's Image.MAX_IMAGE_PIXELS
    # A small file that decodes to a huge image (12000 x 12000) is refused from its header.
    Image.new("L", (12000, 12000)).save(tmp_path / "bomb.png", optimize=True)
    assert (tmp_path / "bomb.png").stat().st_size < 1_000_000
    with pytest.raises(ImageReadError, match="--max-pixels"):
        read_image(tmp_path / "bomb.png")
