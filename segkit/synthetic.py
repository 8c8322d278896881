"""Synthetic immunohistochemistry-like tiles with their masks.

Brown (DAB-positive) and blue (hematoxylin, negative) nuclei on a light, faintly textured
background, as in a Ki-67 stain. Everything is seeded, so the same arguments give the same
pixels on every machine. These tiles are segkit's built-in data set: the demo and most
tests use them, since nothing may be downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SyntheticSample", "make_synthetic_sample", "make_synthetic_dataset"]

_BACKGROUND = np.array([236.0, 230.0, 226.0])
_DAB = np.array([128.0, 78.0, 42.0])
_HEMATOXYLIN = np.array([72.0, 82.0, 150.0])
_STROMA = np.array([222.0, 196.0, 206.0])


@dataclass(frozen=True)
class SyntheticSample:
    """One tile.

    Attributes
    ----------
    image : (M, N, 3) uint8 ndarray
    labels : (M, N) uint16 ndarray
        Instance labels, 0 = background, 1..K = nuclei.
    positive : (K,) bool ndarray
        ``positive[k - 1]`` is True when nucleus ``k`` is DAB-positive.
    """

    image: np.ndarray
    labels: np.ndarray
    positive: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Binary mask {0, 255}, uint8."""
        return np.where(self.labels > 0, 255, 0).astype(np.uint8)

    @property
    def class_mask(self) -> np.ndarray:
        """0 background, 1 negative nucleus, 2 positive nucleus (uint8)."""
        out = np.zeros(self.labels.shape, dtype=np.uint8)
        if self.positive.size:
            lut = np.concatenate([[0], np.where(self.positive, 2, 1)]).astype(np.uint8)
            out = lut[self.labels]
        return out

    @property
    def labelling_index(self) -> float:
        """Fraction of positive nuclei (the Ki-67 labelling index)."""
        return float(self.positive.mean()) if self.positive.size else 0.0


def make_synthetic_sample(
    height: int = 256,
    width: int = 256,
    *,
    seed: int = 0,
    density: float = 1.0,
    radius: tuple[float, float] = (6.0, 13.0),
    positive_fraction: float = 0.35,
) -> SyntheticSample:
    """Draw one IHC-like tile.

    Parameters
    ----------
    height, width : int
        Size in pixels.
    seed : int
        Random seed; the same seed gives the same tile.
    density : float
        Scales the number of nuclei (1.0: about one nucleus per 1,600 pixels).
    radius : (float, float)
        Range of nucleus radii in pixels.
    positive_fraction : float
        Expected fraction of DAB-positive nuclei.
    """
    from scipy import ndimage  # imported here: `import segkit` stays quick

    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)

    # Background: light, with smooth pinkish stroma patches and fine grain.
    stroma = ndimage.gaussian_filter(rng.random((height, width)).astype(np.float32), sigma=12)
    stroma = (stroma - stroma.min()) / max(float(np.ptp(stroma)), 1e-6)
    image = _BACKGROUND[None, None, :] * (1 - 0.5 * stroma[..., None]) + _STROMA * (
        0.5 * stroma[..., None]
    )

    labels = np.zeros((height, width), dtype=np.uint16)
    n_target = max(1, int(density * height * width / 1600))
    positive: list[bool] = []
    attempts = 0
    while len(positive) < n_target and attempts < n_target * 8:
        attempts += 1
        r = rng.uniform(*radius)
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        a, b = r * rng.uniform(0.75, 1.25), r * rng.uniform(0.75, 1.25)
        theta = rng.uniform(0, np.pi)
        y0, y1 = max(0, int(cy - 1.5 * r)), min(height, int(cy + 1.5 * r) + 1)
        x0, x1 = max(0, int(cx - 1.5 * r)), min(width, int(cx + 1.5 * r) + 1)
        if y1 <= y0 or x1 <= x0:
            continue
        dy, dx = rows[y0:y1, x0:x1] - cy, cols[y0:y1, x0:x1] - cx
        u = dx * np.cos(theta) + dy * np.sin(theta)
        v = -dx * np.sin(theta) + dy * np.cos(theta)
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        if not inside.any() or (labels[y0:y1, x0:x1][inside] > 0).any():
            continue
        positive.append(bool(rng.random() < positive_fraction))
        labels[y0:y1, x0:x1][inside] = len(positive)

    pos = np.asarray(positive, dtype=bool)
    if pos.size:
        colours = np.where(pos[:, None], _DAB[None, :], _HEMATOXYLIN[None, :])
        colours = colours * rng.uniform(0.85, 1.15, size=(pos.size, 1))
        lut = np.concatenate([np.zeros((1, 3)), colours], axis=0)
        nucleus = labels > 0
        texture = 1.0 + 0.12 * ndimage.gaussian_filter(
            rng.standard_normal((height, width)).astype(np.float32), sigma=1.2
        )
        image[nucleus] = lut[labels[nucleus]] * texture[nucleus][:, None]

    image = ndimage.gaussian_filter(image, sigma=(0.8, 0.8, 0))
    image += rng.normal(0, 4.0, size=image.shape)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return SyntheticSample(image=image, labels=labels, positive=pos)


def make_synthetic_dataset(
    out_dir: str | Path,
    n: int = 24,
    *,
    height: int = 256,
    width: int = 256,
    layout: str = "separate",
    mask_keyword: str = "_mask",
    mask_encoding: str = "binary",
    image_type: str = "png",
    seed: int = 0,
    prefix: str = "tile",
    groups: int | None = None,
) -> Path:
    """Write ``n`` synthetic tiles and masks to ``out_dir`` as a *source* data set.

    Parameters
    ----------
    out_dir : path
        Created if missing.
    n : int
        Number of pairs.
    height, width : int
        Tile size.
    layout : {'separate', 'suffix'}
        ``separate``: ``images/NAME.EXT`` + ``masks/NAME.png``;
        ``suffix``: ``NAME.EXT`` + ``NAME<mask_keyword>.png`` in one folder.
    mask_encoding : {'binary', 'binary01', 'instance', 'classes'}
        {0,255}; {0,1}; uint16 instance labels; or 0/1/2 (background/negative/positive).
    image_type : {'png', 'jpg', 'bmp', 'tif'}
    seed : int
        Tile ``i`` uses seed ``seed * 100003 + i``.
    prefix : str
        File names are ``{prefix}_{i:04d}`` (``slideG_{prefix}_{i:04d}`` with ``groups``).
    groups : int, optional
        Prefix names with one of this many slide ids, for group-aware split tests.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from segkit.imaging import write_image

    if layout not in ("separate", "suffix"):
        raise ValueError(f"layout: expected 'separate' or 'suffix', got {layout!r}")
    out = Path(out_dir)
    for i in range(n):
        s = make_synthetic_sample(height, width, seed=seed * 100003 + i)
        name = f"{prefix}_{i:04d}"
        if groups:
            name = f"slide{i % groups:02d}_{name}"
        if mask_encoding == "binary":
            mask = s.mask
        elif mask_encoding == "binary01":
            mask = (s.labels > 0).astype(np.uint8)
        elif mask_encoding == "instance":
            mask = s.labels
        elif mask_encoding == "classes":
            mask = s.class_mask
        else:
            raise ValueError(
                "mask_encoding: expected binary, binary01, instance or classes, "
                f"got {mask_encoding!r}"
            )
        if layout == "separate":
            img_path = out / "images" / f"{name}.{image_type}"
            mask_path = out / "masks" / f"{name}.png"
        else:
            img_path = out / f"{name}.{image_type}"
            mask_path = out / f"{name}{mask_keyword}.png"
        write_image(img_path, s.image)
        write_image(mask_path, mask)
    return out
