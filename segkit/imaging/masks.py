"""Mask encodings: source masks to class indices, and class indices to the prepared encoding.

A source mask may be {0,1}, {0,255}, instance labels (any integer ids), RGB(A) colour
codes or a palette PNG. :func:`mask_to_classes` turns it into class indices with the
template's :class:`~segkit.template.ClassSpec`: no mapping means every non-zero value is
foreground; with a mapping, listed values (integers or RGB colours) map to their class and
every other value to 0. :func:`encode_mask` writes class indices in the prepared encoding
({0,255} for two classes, the indices otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segkit.imaging.codecs import ImageReadError, decode_image
from segkit.template import ClassSpec

__all__ = [
    "decode_mask",
    "read_mask",
    "merge_masks",
    "labels_from_colours",
    "mask_to_classes",
    "encode_mask",
    "mask_values",
    "describe_mask_values",
]


def decode_mask(data: bytes, name: str | Path, *, max_pixels: int | None = None) -> np.ndarray:
    """Decode a mask file's bytes; a palette PNG keeps its indices (they are the labels).

    Returns
    -------
    (M, N) integer ndarray, or (M, N, 3) uint8 for colour masks (alpha dropped).
    """
    p = Path(name)
    if p.suffix.lower() in (".png", ".gif", ".bmp") and _is_palette(data):
        import io as _io

        from PIL import Image

        try:
            with Image.open(_io.BytesIO(data)) as im:
                if max_pixels is not None and im.width * im.height > max_pixels:
                    decode_image(data, p, max_pixels=max_pixels)  # raises the usual message
                return np.asarray(im).copy()
        except ImageReadError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ImageReadError(f"{p}: does not decode as an image ({exc})") from None
    arr = decode_image(data, p, max_pixels=max_pixels)
    if arr.ndim == 3:
        if arr.shape[2] in (2, 4):
            arr = arr[..., : arr.shape[2] - 1]
        if arr.shape[2] == 1 or _channels_equal(arr):
            arr = np.ascontiguousarray(arr[..., 0])
    return arr


def _is_palette(data: bytes) -> bool:
    # PNG: colour type byte 25 of the IHDR chunk is 3 for palette images.
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return len(data) > 25 and data[25] == 3
    return False


def _channels_equal(arr: np.ndarray) -> bool:
    first = arr[..., 0]
    return all(np.array_equal(first, arr[..., c]) for c in range(1, arr.shape[2]))


def read_mask(path: str | Path, *, max_pixels: int | None = None) -> np.ndarray:
    """Read a source mask file (see :func:`decode_mask`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot read ({exc.strerror})") from None
    return decode_mask(data, p, max_pixels=max_pixels)


def merge_masks(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Merge per-object masks (one file per nucleus, Kaggle layout) into one mask.

    The merged value of a pixel is the largest value any of the masks has there, so
    {0,255} object masks give a {0,255} mask and class-valued masks keep their classes.
    A single mask is returned as it is (not copied), so callers need not count the files.
    """
    if not masks:
        raise ValueError("merge_masks: no masks to merge")
    if len(masks) == 1:
        return masks[0]
    out = np.array(masks[0], copy=True)
    for m in masks[1:]:
        if m.shape != out.shape:
            raise ValueError(f"merge_masks: mask shapes differ ({m.shape} vs {out.shape})")
        np.maximum(out, m, out=out)
    return out


def labels_from_colours(mask: np.ndarray) -> np.ndarray:
    """Label image of a colour-coded mask: one label per distinct colour, black is 0.

    Parameters
    ----------
    mask : (M, N, C) ndarray
        ``C >= 3``; channels after the third are ignored.

    Returns
    -------
    (M, N) int64 ndarray
        Colours numbered in sorted order from 1, black (if present) 0.
    """
    flat = mask[..., :3].reshape(-1, 3)
    colours, inverse = np.unique(flat, axis=0, return_inverse=True)
    labels = inverse.reshape(mask.shape[:2])
    black = np.flatnonzero((colours == 0).all(axis=1))
    if black.size:  # black is background: give it label 0
        b = int(black[0])
        labels = np.where(labels == b, 0, np.where(labels < b, labels + 1, labels))
    return labels.astype(np.int64)


def _pack_rgb(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.uint32)
    return (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


def mask_to_classes(mask: np.ndarray, classes: ClassSpec) -> np.ndarray:
    """Class indices of a source mask.

    Parameters
    ----------
    mask : (M, N) integer or (M, N, 3) uint8 ndarray
    classes : ClassSpec

    Returns
    -------
    (M, N) uint8 ndarray
        Values in ``0 .. classes.num_classes - 1``.
    """
    if classes.mapping is None:
        if mask.ndim == 3:
            return np.any(mask != 0, axis=2).astype(np.uint8)
        return (mask != 0).astype(np.uint8)
    out = np.zeros(mask.shape[:2], dtype=np.uint8)
    if mask.ndim == 3:
        packed = _pack_rgb(mask[..., :3])
        for key, idx in classes.mapping:
            rgb = key if isinstance(key, tuple) else (key, key, key)
            if idx:
                out[packed == ((rgb[0] << 16) | (rgb[1] << 8) | rgb[2])] = idx
        return out
    flat = mask
    if flat.dtype.kind == "f":
        flat = np.rint(flat).astype(np.int64)
    int_keys = [(k, i) for k, i in classes.mapping if not isinstance(k, tuple)]
    grey_keys = [
        (k[0], i) for k, i in classes.mapping if isinstance(k, tuple) and k[0] == k[1] == k[2]
    ]
    keys = int_keys + [(k, i) for k, i in grey_keys if k not in dict(int_keys)]
    if flat.dtype.kind in "ui" and flat.size and int(flat.min()) >= 0:
        top = max(int(flat.max()), max((k for k, _ in keys), default=0))
        if top < 1 << 20:
            lut = np.zeros(top + 1, dtype=np.uint8)
            for k, i in keys:
                lut[k] = i
            return lut[flat]
    for k, i in keys:
        if i:
            out[flat == k] = i
    return out


def encode_mask(class_mask: np.ndarray, classes: ClassSpec | int) -> np.ndarray:
    """The prepared, on-disk form of a class-index mask.

    Parameters
    ----------
    class_mask : (M, N) integer ndarray
        Class indices.
    classes : ClassSpec or int
        The template's classes, or their number (background included).

    Returns
    -------
    (M, N) uint8 ndarray
        {0, 255} for two classes (binary), the class indices themselves otherwise.
    """
    mask = np.asarray(class_mask)
    num_classes = classes if isinstance(classes, int) else classes.num_classes
    if num_classes == 2:
        return (mask > 0).astype(np.uint8) * np.uint8(255)
    return mask.astype(np.uint8, copy=False)


def mask_values(mask: np.ndarray, *, limit: int = 4096) -> list[int] | list[str]:
    """Distinct values of a mask (``"#rrggbb"`` strings for colour masks), at most ``limit``."""
    if mask.ndim == 3:
        packed = np.unique(_pack_rgb(mask[..., :3]))
        return [f"#{int(v):06x}" for v in packed[:limit]]
    if mask.dtype.kind in "ui" and mask.dtype.itemsize <= 2:
        counts = np.bincount(mask.ravel().astype(np.int64))
        values = np.flatnonzero(counts)
    else:
        values = np.unique(mask)
    return [int(v) for v in values[:limit]]


def describe_mask_values(values: Sequence[int] | Sequence[str]) -> str:
    """A short name for a mask encoding: ``binary {0,255}``, ``instance labels`` and so on."""
    if values and isinstance(values[0], str):
        return f"RGB colour codes ({len(values)} colours)"
    vals = set(int(v) for v in values)  # type: ignore[arg-type]
    if vals <= {0}:
        return "empty (all 0)"
    if vals <= {0, 1}:
        return "binary {0,1}"
    if vals <= {0, 255}:
        return "binary {0,255}"
    if len(vals) == 2:
        lo, hi = sorted(vals)
        return f"binary {{{lo},{hi}}}"
    if len(vals) > 8 or max(vals) > 255:
        return f"instance labels ({len(vals - {0})} ids)"
    return f"class values {sorted(vals)}"
