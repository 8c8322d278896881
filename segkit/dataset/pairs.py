"""Reading the files of one prepared pair: image, mask, instance labels, points.

The manifest (:mod:`segkit.dataset.manifest`) says where they are; these functions read them
as arrays in the template's channels and classes, and name the file when one is unreadable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segkit.dataset.manifest import Manifest, ManifestError, PairRecord

__all__ = ["load_image", "load_pair", "load_instances", "load_points"]


def load_image(manifest: Manifest, pair: PairRecord | str) -> np.ndarray:
    """The image of a pair, ``(M, N, C)`` uint8 with ``C = manifest.template.channels``.

    Works for every pair, also one with points and no mask.
    """
    rec = manifest.pair(pair) if isinstance(pair, str) else pair
    image = _read_png_like(manifest.path(rec.image))
    return _as_channels(image, manifest.template.channels, manifest.path(rec.image))


def _read_png_like(path: Path) -> np.ndarray:
    from segkit.imaging import read_image

    return read_image(path, max_pixels=None)


def load_pair(manifest: Manifest, pair: PairRecord | str) -> tuple[np.ndarray, np.ndarray]:
    """Read one prepared pair.

    Parameters
    ----------
    manifest : Manifest
    pair : PairRecord or str
        The pair or its name.

    Returns
    -------
    image : (M, N, C) uint8 ndarray
        ``C = manifest.template.channels`` (3 for RGB, 1 for grayscale and binary).
    mask : (M, N) uint8 ndarray
        Class indices: binary templates give {0, 1} (255 on disk is class 1).
    """
    rec = manifest.pair(pair) if isinstance(pair, str) else pair
    if not rec.mask:
        raise ManifestError(_no_mask(manifest, rec))
    template = manifest.template
    image = load_image(manifest, rec)
    mask = _read_png_like(manifest.path(rec.mask))
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.dtype != np.uint8:
        mask = mask.astype(np.uint8)
    if template.classes.is_binary:
        mask = (mask > 127).astype(np.uint8)
    if mask.shape != image.shape[:2]:
        raise ManifestError(
            f"{manifest.path(rec.mask)}: mask is {mask.shape[1]}x{mask.shape[0]} but its image "
            f"is {image.shape[1]}x{image.shape[0]}"
        )
    return image, mask


def _no_mask(manifest: Manifest, rec: PairRecord) -> str:
    return (
        f"{manifest.root}: pair {rec.name!r} has points, no mask: use it to count and validate, "
        "not to train"
    )


def _as_channels(image: np.ndarray, channels: int, path: Path) -> np.ndarray:
    from segkit.imaging import to_channels

    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ManifestError(f"{path}: image has {image.shape[2]} channels, expected {channels}")
    return to_channels(image, channels)


def load_instances(manifest: Manifest, pair: PairRecord | str) -> np.ndarray | None:
    """The instance labels of a pair, ``(M, N)`` uint16 or uint32 (0 = background), or None.

    None when the pair has no instance part (its source had no separated objects).
    """
    rec = manifest.pair(pair) if isinstance(pair, str) else pair
    if not rec.instances:
        return None
    import tifffile

    path = manifest.path(rec.instances)
    try:
        labels = tifffile.imread(path)
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: cannot read the instance labels ({exc})") from None
    if labels.ndim != 2 or labels.dtype.kind not in "ui":
        raise ManifestError(f"{path}: expected a 2-D integer label image, got {labels.dtype} "
                            f"{labels.shape}")  # fmt: skip
    return labels


def load_points(manifest: Manifest, pair: PairRecord | str) -> tuple[np.ndarray, tuple[str, ...]]:
    """The point annotations of a pair: ``(N, 2)`` float ``(x, y)`` and N class names.

    An empty array and ``()`` when the pair has no point part.
    """
    rec = manifest.pair(pair) if isinstance(pair, str) else pair
    if not rec.points:
        return np.zeros((0, 2), dtype=float), ()
    path = manifest.path(rec.points)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        xy = np.array([[float(d["x"]), float(d["y"])] for d in items], dtype=float)
        names = tuple(str(d["class"]) for d in items)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ManifestError(f"{path}: cannot read the points ({exc})") from None
    return xy.reshape(-1, 2), names
