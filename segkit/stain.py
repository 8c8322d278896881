"""Stain separation (colour deconvolution) of brightfield RGB images.

Optical density
---------------
segkit's optical density of an 8-bit channel value ``I`` (0-255) is, per channel::

    od = -log10((I + 1) / 256)          # formula "segkit", dimensionless (absorbance, log10)

so white (255) is 0 and black (0) is ``log10(256)`` = 2.408: finite everywhere, no clipping.
QuPath computes ``od = log10(max / I)`` with ``max = 255`` per channel (formula ``"qupath"``
here; ``I = 0`` is read as 1). Like QuPath's "Background" values, :attr:`StainVectors.background`
replaces the white point 255 per channel (``-log10((I + 1) / (max + 1))``) for images whose
empty glass is not white (:func:`estimate_background`); pixels brighter than it get a
negative OD. Both are base-10 absorbances; they differ by
``log10(256 I / (255 (I + 1)))``: 0 at ``I = 255``, -0.002 at ``I = 128``, -0.007 at ``I = 50``,
-0.04 at ``I = 10``. QuPath's DAB thresholds 0.2 / 0.4 / 0.6 are stain concentrations in these
units after deconvolution with its default H-DAB vectors (:data:`H_DAB`); with the "segkit"
formula the same thresholds apply to within about 0.01 OD (DAB 0.6 over hematoxylin 0.3
reads 0.595).

``skimage.color.rgb2hed`` returns a different scale: it uses ``ln(I / 255) / ln(1e-6)``, which
is the base-10 OD divided by 6, clips negatives to 0, and deconvolves with its own, slightly
different H-E-DAB matrix; its DAB channel times 6 is close to (not equal to) segkit's DAB OD.

Deconvolution
-------------
With the unit stain vectors as the rows of ``M`` (3 x 3), a pixel's OD row vector is
``od = c @ M``; :func:`separate_stains` returns ``c = od @ inv(M)`` per pixel, one channel per
stain, in OD units. Concentrations are not clipped (a negative DAB value is a pixel bluer than
pure hematoxylin), as in QuPath.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segkit.validation import FieldChecker, is_number

__all__ = [
    "H_DAB",
    "H_E",
    "STAIN_PRESETS",
    "StainVectors",
    "compose_stains",
    "estimate_background",
    "estimate_stain_vectors",
    "macenko_vectors",
    "optical_density",
    "separate_stains",
    "stain_preset",
]

Vector = tuple[float, float, float]

_check = FieldChecker("stain vectors field", lead="expected ")


def _od_segkit(values: np.ndarray, white: np.ndarray) -> np.ndarray:
    return -np.log10((values + 1.0) / (white + 1.0))


def _od_qupath(values: np.ndarray, white: np.ndarray) -> np.ndarray:
    return -np.log10(np.maximum(values, 1.0) / white)


def _rgb_segkit(od: np.ndarray, white: np.ndarray) -> np.ndarray:
    return (white + 1.0) * np.power(10.0, -od) - 1.0


def _rgb_qupath(od: np.ndarray, white: np.ndarray) -> np.ndarray:
    return white * np.power(10.0, -od)


_Formula = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: ``{formula: (channel value -> OD, OD -> channel value)}``, given the white point.
OD_FORMULAS: dict[str, tuple[_Formula, _Formula]] = {
    "segkit": (_od_segkit, _rgb_segkit),
    "qupath": (_od_qupath, _rgb_qupath),
}


def _formula(name: str) -> tuple[_Formula, _Formula]:
    if name not in OD_FORMULAS:
        raise ValueError(f"unknown OD formula {name!r}; expected one of {', '.join(OD_FORMULAS)}")
    return OD_FORMULAS[name]


def _unit(name: str, value: Any) -> Vector:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 3
        or not all(is_number(v) and np.isfinite(v) for v in value)
    ):
        raise _check.bad(name, value, "three finite numbers (r, g, b optical densities)")
    v = np.asarray(value, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if norm <= 1e-9:
        raise _check.bad(name, value, "a vector with a non-zero length")
    return (float(v[0] / norm), float(v[1] / norm), float(v[2] / norm))


@dataclass(frozen=True)
class StainVectors:
    """Three stains and their unit optical-density vectors (r, g, b).

    Parameters
    ----------
    name : str
        What the set is called (``"H-DAB"``).
    stains : (3,) tuple of str
        The stain names, e.g. ``("Hematoxylin", "DAB", "Residual")``.
    vectors : (3,) tuple of (r, g, b)
        One OD vector per stain, kept as given; :attr:`matrix` holds them normalised to
        unit length. A third vector of ``None`` is the residual: the normalised cross product
        of the first two, as in QuPath.
    background : (r, g, b)
        The channel values of empty glass (QuPath's "Background"), 1-255 each; OD 0 there.
    """

    name: str
    stains: tuple[str, str, str]
    vectors: tuple[Vector, Vector, Vector | None]
    background: Vector
    matrix: np.ndarray = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        name: str,
        stains: Sequence[str],
        vectors: Sequence[Sequence[float] | None],
        background: Sequence[float] = (255.0, 255.0, 255.0),
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise _check.bad("name", name, "a non-empty string")
        if (
            isinstance(stains, str)
            or not isinstance(stains, Sequence)
            or len(stains) != 3
            or not all(isinstance(s, str) and s.strip() for s in stains)
            or len(set(stains)) != 3
        ):
            raise _check.bad("stains", stains, "three different non-empty names")
        if isinstance(vectors, str) or not isinstance(vectors, Sequence) or len(vectors) != 3:
            raise _check.bad("vectors", vectors, "three (r, g, b) vectors, the third may be null")
        if vectors[0] is None or vectors[1] is None:
            raise _check.bad("vectors", vectors, "the first two vectors given")
        v1 = _unit("vectors[0]", vectors[0])
        v2 = _unit("vectors[1]", vectors[1])
        third = vectors[2]
        if third is None and np.linalg.norm(np.cross(v1, v2)) < 1e-6:
            raise _check.bad("vectors", vectors, "two vectors that are not parallel")
        v3 = _unit("vectors[2]", np.cross(v1, v2).tolist() if third is None else third)
        matrix = np.array([v1, v2, v3], dtype=np.float64)
        if abs(np.linalg.det(matrix)) < 1e-6:
            raise _check.bad("vectors", vectors, "three linearly independent vectors")
        if (
            isinstance(background, str)
            or not isinstance(background, Sequence)
            or len(background) != 3
            or not all(is_number(v) and 1 <= v <= 255 for v in background)
        ):
            raise _check.bad("background", background, "three channel values from 1 to 255")
        object.__setattr__(self, "background", tuple(float(v) for v in background))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "stains", tuple(stains))
        given = tuple(None if v is None else tuple(float(x) for x in v) for v in vectors)
        object.__setattr__(self, "vectors", given)
        object.__setattr__(self, "matrix", matrix)

    def index(self, stain: str) -> int:
        """The channel of ``stain`` in :func:`separate_stains` output."""
        if stain not in self.stains:
            raise ValueError(f"no stain {stain!r} in {self.name}; it has {', '.join(self.stains)}")
        return self.stains.index(stain)

    def to_dict(self) -> dict[str, Any]:
        vectors = [None if v is None else list(v) for v in self.vectors]
        return {
            "name": self.name,
            "stains": list(self.stains),
            "vectors": vectors,
            "background": list(self.background),
        }

    def with_background(self, background: Sequence[float]) -> StainVectors:
        """The same stains with another white point (e.g. :func:`estimate_background`)."""
        return StainVectors(self.name, self.stains, self.vectors, background)

    def to_json(self, *, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StainVectors:
        """Build from a dict; unknown or missing keys are an error that names them."""
        if not isinstance(data, Mapping):
            raise ValueError(f"stain vectors are a JSON object, got {type(data).__name__}")
        known = ("name", "stains", "vectors", "background")
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise _check.bad(unknown[0], data[unknown[0]], f"no such field; known: {known}")
        missing = [k for k in known[:3] if k not in data]
        if missing:
            raise ValueError(f"stain vectors field {missing[0]!r} is missing")
        return cls(**dict(data))

    @classmethod
    def from_json(cls, text: str) -> StainVectors:
        return cls.from_dict(json.loads(text))


#: QuPath's default H-DAB vectors (its ``StainVector`` defaults); residual = cross product.
H_DAB = StainVectors(
    "H-DAB",
    ("Hematoxylin", "DAB", "Residual"),
    ((0.651, 0.701, 0.290), (0.269, 0.568, 0.778), None),
)
#: QuPath's default H&E vectors (Ruifrok & Johnston's ImageJ H&E is close:
#: hematoxylin (0.644, 0.717, 0.267), eosin (0.093, 0.954, 0.283)).
H_E = StainVectors(
    "H&E",
    ("Hematoxylin", "Eosin", "Residual"),
    ((0.651, 0.701, 0.290), (0.216, 0.801, 0.558), None),
)
STAIN_PRESETS: dict[str, StainVectors] = {"H-DAB": H_DAB, "H&E": H_E}


def stain_preset(name: str | StainVectors) -> StainVectors:
    """The preset called ``name`` (``"H-DAB"``, ``"H&E"``); a :class:`StainVectors` passes."""
    if isinstance(name, StainVectors):
        return name
    if name not in STAIN_PRESETS:
        raise ValueError(
            f"unknown stain preset {name!r}; expected one of {', '.join(STAIN_PRESETS)}"
        )
    return STAIN_PRESETS[name]


def _rgb_float(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"expected an RGB image of shape (M, N, 3), got shape {arr.shape}")
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"expected 8-bit values (uint8 or float 0-255), got dtype {arr.dtype}")
    return arr[..., :3]


def optical_density(
    image: np.ndarray,
    *,
    formula: str = "segkit",
    background: Sequence[float] = (255.0, 255.0, 255.0),
) -> np.ndarray:
    """Per-channel optical density of an 8-bit RGB image.

    Parameters
    ----------
    image : (M, N, 3) ndarray
        ``uint8``, or float in 0-255 (an alpha channel is ignored).
    formula : {"segkit", "qupath"}
        ``-log10((I + 1) / 256)`` or QuPath's ``log10(255 / I)`` (module docstring).
    background : (r, g, b)
        The white point that replaces 255 per channel.

    Returns
    -------
    od : (M, N, 3) float32 ndarray
    """
    to_od = _formula(formula)[0]
    arr = _rgb_float(image)
    white = np.asarray(background, dtype=np.float64).reshape(1, 3)
    if arr.dtype == np.uint8:  # a 256-entry table per channel: one lookup per value
        lut = to_od(np.arange(256, dtype=np.float64)[:, None], white).astype(np.float32)
        return np.stack([lut[arr[..., k], k] for k in range(3)], axis=-1)
    return to_od(np.clip(arr.astype(np.float64), 0.0, 255.0), white[0]).astype(np.float32)


def separate_stains(
    image: np.ndarray, stains: StainVectors | str = H_DAB, *, formula: str = "segkit"
) -> np.ndarray:
    """Stain concentrations (OD units) per pixel, one channel per stain of ``stains``.

    Parameters
    ----------
    image : (M, N, 3) ndarray
    stains : StainVectors or preset name
    formula : {"segkit", "qupath"}

    Returns
    -------
    concentrations : (M, N, 3) float32 ndarray
        Channel ``stains.index(name)`` holds stain ``name``.
    """
    sv = stain_preset(stains)
    od = optical_density(image, formula=formula, background=sv.background)
    inverse = np.linalg.inv(sv.matrix).astype(np.float32)
    return od @ inverse


def compose_stains(
    concentrations: np.ndarray, stains: StainVectors | str = H_DAB, *, formula: str = "segkit"
) -> np.ndarray:
    """The RGB values (float, 0-255, not rounded) that :func:`separate_stains` inverts.

    ``concentrations`` is ``(..., 3)`` in OD units; used to draw synthetic stained images.
    """
    sv = stain_preset(stains)
    od = np.asarray(concentrations, dtype=np.float64) @ sv.matrix
    return np.clip(_formula(formula)[1](od, np.asarray(sv.background)), 0.0, 255.0)


def estimate_background(image: np.ndarray, *, fraction: float = 0.02) -> Vector:
    """The white point of ``image``: per channel, the median of its brightest pixels.

    The brightest ``fraction`` of pixels (by the sum of r, g, b) stand for empty glass, or for
    the palest tissue when the field is full; use the result as
    ``stains.with_background(...)``. Values are clipped to 1-255.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction: expected a value in (0, 1], got {fraction!r}")
    rgb = _rgb_float(image).reshape(-1, 3).astype(np.float64)
    brightness = rgb.sum(axis=1)
    cut = np.quantile(brightness, 1.0 - fraction)
    white = np.median(rgb[brightness >= cut], axis=0)
    r, g, b = np.clip(white, 1.0, 255.0).tolist()
    return (r, g, b)


def estimate_stain_vectors(
    image: np.ndarray,
    *,
    default: StainVectors | str = H_DAB,
    beta: float = 0.15,
    alpha: float = 1.0,
    min_pixels: int = 1000,
    max_pixels: int = 200_000,
    seed: int = 0,
) -> StainVectors:
    """Estimate the two stain vectors of one image with Macenko's method.

    Pixels whose OD is below ``beta`` in any channel are background. The OD of the others is
    projected on the plane of its two main directions (SVD); the directions at the
    ``alpha`` and ``100 - alpha`` percentiles of the angle in that plane are the stains. The one
    with the larger red OD is the first stain of ``default`` (hematoxylin), the other the
    second; the third is the residual.

    Falls back to ``default`` (with a warning) when fewer than ``min_pixels`` pixels are
    stained or the estimate is not physical (negative OD components, vectors less than 3
    degrees apart). At most ``max_pixels`` stained pixels (chosen with ``seed``) are used.

    Returns
    -------
    stains : StainVectors
        Named ``"<default name> (Macenko)"``, or ``default`` itself on fallback.
    """
    base = stain_preset(default)
    od = optical_density(image, background=base.background).reshape(-1, 3).astype(np.float64)
    found = macenko_vectors(od, beta=beta, alpha=alpha, min_pixels=min_pixels,
                            max_pixels=max_pixels, seed=seed)  # fmt: skip
    if isinstance(found, str):
        warnings.warn(f"{found}; using the {base.name} default stain vectors", stacklevel=2)
        return base
    vectors = (found[0].tolist(), found[1].tolist(), None)
    return StainVectors(f"{base.name} (Macenko)", base.stains, vectors, base.background)


def macenko_vectors(
    od: np.ndarray, *, beta: float, alpha: float, min_pixels: int, max_pixels: int, seed: int
) -> tuple[np.ndarray, np.ndarray] | str:
    """The two Macenko stain OD vectors of ``od`` ``(N, 3)`` (larger red OD first; not of unit
    length), or why there are none (see :func:`estimate_stain_vectors`); never warns."""
    od = od[np.minimum(np.minimum(od[:, 0], od[:, 1]), od[:, 2]) >= beta]
    if len(od) < min_pixels:
        return f"{len(od)} stained pixels (fewer than {min_pixels})"
    if len(od) > max_pixels:
        od = od[np.random.default_rng(seed).choice(len(od), max_pixels, replace=False)]
    _, _, vt = np.linalg.svd(od - od.mean(axis=0), full_matrices=False)
    plane = vt[:2].T  # (3, 2)
    plane = plane * np.where(plane.sum(axis=0) < 0, -1.0, 1.0)  # point into positive OD
    projected = od @ plane
    angles = np.arctan2(projected[:, 1], projected[:, 0])
    lo, hi = np.percentile(angles, [alpha, 100.0 - alpha])
    v_lo = plane @ np.array([np.cos(lo), np.sin(lo)])
    v_hi = plane @ np.array([np.cos(hi), np.sin(hi)])
    first, second = (v_lo, v_hi) if v_lo[0] > v_hi[0] else (v_hi, v_lo)
    cosine = abs(float(np.dot(first, second)) / (np.linalg.norm(first) * np.linalg.norm(second)))
    if min(first.min(), second.min()) < 0 or cosine > np.cos(np.radians(3.0)):
        return "Macenko estimate is not physical"
    return first, second
