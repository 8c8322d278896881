"""Image files: decoding and encoding, safely.

Every reader returns a NumPy array in ``(row, col[, channel])`` order and raises
:class:`ImageReadError` naming the file and the problem. Every writer is atomic: it writes a
temporary file beside the target and renames it into place (:mod:`segkit.files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from segkit.files import atomic_write_bytes

__all__ = [
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_PIXELS",
    "ImageReadError",
    "read_image",
    "decode_image",
    "decode_pil",
    "write_image",
    "image_size",
    "encode_image",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# Pillow's own warning level (Image.MAX_IMAGE_PIXELS, 89,478,485: 1024 x 1024 x 1024 // 4 // 3).
# Larger images are refused unless the caller raises the limit (``--max-pixels``); whole
# slides are read tile by tile and never decoded at once.
DEFAULT_MAX_PIXELS = 89_478_485
_TIFF = (".tif", ".tiff")
_PIL_8BIT_MODES = ("L", "LA", "P", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "1")


class ImageReadError(ValueError):
    """A file that does not decode as an image, or is refused (too large)."""


def _check_pixels(path: Path, height: int, width: int, max_pixels: int | None) -> None:
    if max_pixels is not None and height * width > max_pixels:
        raise ImageReadError(
            f"{path}: image of {width}x{height} = {height * width:,} pixels exceeds the limit of "
            f"{max_pixels:,} pixels (a possible decompression bomb); "
            "if it is genuine, raise the limit with --max-pixels (max_pixels= in Python)"
        )


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` read from the header without decoding the pixels."""
    p = Path(path)
    try:
        if p.suffix.lower() in _TIFF:
            import tifffile

            with tifffile.TiffFile(p) as tif:
                shape = tif.pages[0].shape
            return int(shape[0]), int(shape[1])
        from PIL import Image

        with Image.open(p) as im:
            return im.height, im.width
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a read error
        raise ImageReadError(f"{p}: cannot read the image header ({exc})") from None


def read_image(path: str | Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file.

    Parameters
    ----------
    path : path
        PNG, JPEG, BMP or TIFF; 8- or 16-bit; grayscale, RGB, RGBA or palette.
    max_pixels : int, optional
        Refuse images with more pixels than this (decompression bombs). ``None``: no limit.

    Returns
    -------
    image : (M, N) or (M, N, C) ndarray
        uint8 or uint16 (or whatever the TIFF holds). Palette images are expanded to RGB
        (RGBA when the palette has transparency).
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{p}: no such file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read ({exc.strerror})") from None
    return decode_image(data, p, max_pixels=max_pixels)


def decode_image(
    data: bytes, name: str | Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode the bytes of an image file; ``name`` gives the suffix and names errors.

    Same result as :func:`read_image` (which reads the file and calls this), for callers that
    also hash the bytes and should read each file only once.
    """
    p = Path(name)
    try:
        if p.suffix.lower() in _TIFF:
            return _read_tiff(data, p, max_pixels)
        return _read_pillow(data, p, max_pixels)
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a read error
        raise ImageReadError(f"{p}: does not decode as an image ({exc})") from None


def _read_tiff(data: bytes, p: Path, max_pixels: int | None) -> np.ndarray:
    # Pillow (libtiff) decodes the common compressions (LZW, Deflate, JPEG) without extra
    # packages; tifffile handles what Pillow cannot (multi-channel 16-bit, float, planar).
    try:
        arr: np.ndarray | None = _read_pillow(data, p, max_pixels)
    except ImageReadError as exc:
        if "exceeds the limit" in str(exc):
            raise
        arr = None
    if arr is not None:
        return arr
    import io as _io

    import tifffile

    with tifffile.TiffFile(_io.BytesIO(data)) as tif:
        page = tif.pages[0]
        shape = page.shape
        _check_pixels(p, int(shape[0]), int(shape[1]), max_pixels)
        arr = page.asarray()
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar (C, M, N) to (M, N, C)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    return arr


def _read_pillow(data: bytes, p: Path, max_pixels: int | None) -> np.ndarray:
    return _pil_to_array(decode_pil(data, p, max_pixels=max_pixels))


def decode_pil(
    data: bytes, name: str | Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> Any:
    """Decode image bytes with Pillow and return the loaded ``PIL.Image.Image``.

    For callers that stay in Pillow (resizing, re-encoding) and so avoid array copies.
    Raises :class:`ImageReadError` like :func:`decode_image`.
    """
    import io as _io
    import warnings

    from PIL import Image

    p = Path(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            im = Image.open(_io.BytesIO(data))
            _check_pixels(p, im.height, im.width, max_pixels)
            if im.format == "TIFF" and im.mode in _PIL_8BIT_MODES:
                bits = im.tag_v2.get(258, (8,))  # type: ignore[attr-defined]
                bits = bits if isinstance(bits, tuple) else (bits,)
                if max(bits) > 8:  # Pillow would reduce these samples to 8 bits
                    raise ImageReadError(f"{p}: {max(bits)}-bit samples need tifffile")
            im.load()
            return im
        except ImageReadError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ImageReadError(f"{p}: does not decode as an image ({exc})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = old


def _pil_to_array(im: Any) -> np.ndarray:
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im, dtype=np.uint16).copy()
    elif im.mode == "I":
        arr = np.asarray(im)
        if arr.min(initial=0) >= 0 and arr.max(initial=0) < 65536:
            return arr.astype(np.uint16)
        return arr
    elif im.mode == "1":
        return (np.asarray(im, dtype=np.uint8) * 255).astype(np.uint8)
    elif im.mode == "LA":
        im = im.convert("L")
    elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    elif im.mode not in ("L", "RGB", "RGBA", "F"):
        raise ValueError(f"unsupported pixel mode {im.mode}")
    return np.asarray(im).copy()


_PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}


def encode_image(image: Any, suffix: str, **options: Any) -> bytes:
    """Encode ``image`` to the bytes of a file with ``suffix`` (``.png``, ``.jpg``, ...).

    ``image`` is an ndarray or a Pillow image. PNG uses zlib level 1 (fast, lossless),
    JPEG quality 95, TIFF zlib compression; ``options`` override these.
    """
    import io as _io

    suffix = suffix.lower()
    buf = _io.BytesIO()
    if suffix in _TIFF:
        import tifffile

        arr = np.asarray(image)
        tifffile.imwrite(buf, arr, **({"compression": "zlib"} | options))
        return buf.getvalue()
    from PIL import Image

    if suffix not in _PIL_FORMATS:
        raise ValueError(f"unknown image suffix {suffix!r}; expected one of {IMAGE_EXTENSIONS}")
    im = image if isinstance(image, Image.Image) else Image.fromarray(image)
    fmt = _PIL_FORMATS[suffix]
    if fmt == "JPEG":
        options = {"quality": 95} | options
    if fmt == "PNG":
        options = {"compress_level": 1} | options
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def write_image(path: str | Path, image: np.ndarray, **options: Any) -> Path:
    """Write ``image`` atomically; the format follows the suffix. Returns the path."""
    p = Path(path)
    return atomic_write_bytes(p, encode_image(image, p.suffix, **options), fsync=False)
