"""Helpers for the dataset tests: small synthetic sources in every layout and encoding."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from segkit.imaging import write_image
from segkit.synthetic import make_synthetic_sample


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative path -> digest), plus modes and mtimes."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[p.relative_to(root).as_posix()] = f"{digest} {st.st_mode:o} {st.st_mtime_ns}"
    return out


@pytest.fixture
def digest_tree() -> Callable[[Path], dict[str, str]]:
    """The :func:`tree_digest` function, to compare a folder before and after."""
    return tree_digest


def sample(i: int, size: tuple[int, int] = (48, 64)) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic RGB image and its uint16 instance labels."""
    s = make_synthetic_sample(size[0], size[1], seed=100 + i, density=2.0, radius=(4.0, 8.0))
    return s.image, s.labels


@pytest.fixture
def write_pair() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``write_pair(image_path, mask_path, i, size=..., encoding="binary")`` writes a pair.

    ``encoding``: binary (0/255), binary01, instance (uint16 labels), classes (0/1/2).
    Returns the image and the foreground (bool) array.
    """

    def write(
        image_path: Path,
        mask_path: Path,
        i: int = 0,
        *,
        size: tuple[int, int] = (48, 64),
        encoding: str = "binary",
    ) -> tuple[np.ndarray, np.ndarray]:
        image, labels = sample(i, size)
        fg = labels > 0
        if encoding == "binary":
            mask = np.where(fg, 255, 0).astype(np.uint8)
        elif encoding == "binary01":
            mask = fg.astype(np.uint8)
        elif encoding == "instance":
            mask = labels.astype(np.uint16)
        else:
            raise ValueError(encoding)
        write_image(image_path, image)
        write_image(mask_path, mask)
        return image, fg

    return write


@pytest.fixture
def separate_source(tmp_path: Path, write_pair: Callable[..., object]) -> Path:
    """8 pairs, ``images/`` + ``masks/``, 48x64 PNG, {0,255} masks."""
    src = tmp_path / "src"
    for i in range(8):
        write_pair(src / "images" / f"s{i:02d}.png", src / "masks" / f"s{i:02d}.png", i)
    return src
