"""Stain normalisation: bring an image's stain colours to those of a model's training images.

A :class:`StainNormalisation` is a method and its target; :func:`fit_stain_normalisation`
computes the target from training images, :func:`normalise` applies it to an image, and the
fitted object travels with the model (``ModelInfo.stain_normalisation``, ``model.json``), so
that every predictor feeds the model what training fed it.

Methods
-------
``"none"``
    The image is not changed (the default; every model without the field).
``"reinhard"``
    Reinhard et al. 2001, in CIELAB (D65, sRGB): each of L, a, b is shifted and scaled so
    that the tissue's mean and standard deviation are the target's. Statistics are those of
    the tissue (pixels whose darkest channel is below :data:`TISSUE_BELOW`), and glass is kept:
    the transformed colour is blended with the original by a weight that falls from 1 at a
    darkest channel of :data:`GLASS_RAMP` ``[0]`` to 0 at ``[1]``, so the background never
    takes a tint.
``"macenko"``
    Macenko et al. 2009: the two stain vectors of the image
    (:func:`segkit.stain.macenko_vectors`, OD of :func:`segkit.stain.optical_density`), its
    pixels' concentrations of them (least squares), each stain scaled so that its 99th
    percentile over the stained pixels is the target's (the gain kept within
    ``1 / MAX_GAIN .. MAX_GAIN``, so a stain nearly absent from an image is not blown up), and
    the image composed again with the target's stain vectors.

The target is the median over the training images of each image's own estimate
(:func:`measure_stain`). An image whose stain cannot be measured (glass only, too few stained
pixels, an estimate that is not physical) is returned unchanged, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segkit.stain import macenko_vectors, optical_density
from segkit.validation import FieldChecker, is_int, is_number

__all__ = [
    "METHODS",
    "StainNormalisation",
    "fit_stain_normalisation",
    "measure_stain",
    "normalise",
    "stain_normaliser",
    "rgb_to_lab",
    "lab_to_rgb",
]

METHODS = ("none", "macenko", "reinhard")
#: A pixel is tissue (for the statistics) where its darkest channel is below this.
TISSUE_BELOW = 220
#: Darkest channel where Reinhard's change is whole, and where it is none (glass).
GLASS_RAMP = (200.0, 240.0)
#: Fewest tissue (stained) pixels an image needs for its stain to be measured.
MIN_PIXELS = 500
#: Macenko: background OD threshold, angle percentile, concentration percentile, largest gain.
BETA, ALPHA, PERCENTILE, MAX_GAIN = 0.15, 1.0, 99.0, 4.0
_MAX_MEASURED = 250_000  # pixels of an image looked at to measure its stain (a regular stride)

_check = FieldChecker("stain normalisation field", lead="expected ")
_FIELDS = {
    "macenko": ("stain_vectors", "max_concentrations"),
    "reinhard": ("lab_mean", "lab_std"),
    "none": (),
}


def _numbers(name: str, value: Any, n: int, *, positive: bool = False) -> tuple[float, ...]:
    what = f"{n} finite numbers" + (" > 0" if positive else "")
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence | np.ndarray)
        or len(value) != n
        or not all(is_number(v) and np.isfinite(v) and (v > 0 or not positive) for v in value)
    ):
        raise _check.bad(name, value, what)
    return tuple(float(v) for v in value)


def _vectors(value: Any) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    expected = "two (r, g, b) optical-density vectors with components >= 0, not parallel"
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray) or len(value) != 2:
        raise _check.bad("stain_vectors", value, expected)
    rows = [np.asarray(_numbers("stain_vectors", v, 3), dtype=np.float64) for v in value]
    if any(r.min() < 0 or np.linalg.norm(r) < 1e-9 for r in rows):
        raise _check.bad("stain_vectors", value, expected)
    # unit length (a vector already of unit length is kept bit for bit: JSON round trips)
    units = [r if abs(np.linalg.norm(r) - 1) < 1e-9 else r / np.linalg.norm(r) for r in rows]
    if abs(float(units[0] @ units[1])) > np.cos(np.radians(1.0)):
        raise _check.bad("stain_vectors", value, expected)
    a, b = (tuple(float(x) for x in u) for u in units)
    return (a[0], a[1], a[2]), (b[0], b[1], b[2])


@dataclass(frozen=True)
class StainNormalisation:
    """A stain normalisation method and its target (see the module for the methods).

    Parameters
    ----------
    method : {'none', 'macenko', 'reinhard'}
    stain_vectors : ((r, g, b), (r, g, b)), macenko only
        The target's unit OD vectors, the one with the larger red OD (hematoxylin) first.
    max_concentrations : (float, float), macenko only
        The target's 99th-percentile concentration of each stain (OD units).
    lab_mean, lab_std : (L, a, b), reinhard only
        The target tissue's CIELAB mean and standard deviation.
    fitted_on : int
        How many images the target was estimated from (0: not recorded).
    """

    method: str = "none"
    stain_vectors: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    max_concentrations: tuple[float, float] | None = None
    lab_mean: tuple[float, float, float] | None = None
    lab_std: tuple[float, float, float] | None = None
    fitted_on: int = 0

    def __post_init__(self) -> None:
        method = _check.check_choice("method", self.method, METHODS)
        wanted = _FIELDS[method]
        for name in ("stain_vectors", "max_concentrations", "lab_mean", "lab_std"):
            value = getattr(self, name)
            if name not in wanted:
                if value is not None:
                    raise _check.bad(name, value, f"no {name} for method {method!r}")
                continue
            if value is None:
                raise _check.bad(name, value, f"the target's {name} for method {method!r}")
            if name == "stain_vectors":
                value = _vectors(value)
            elif name == "max_concentrations":
                value = _numbers(name, value, 2, positive=True)
            else:
                value = _numbers(name, value, 3, positive=name == "lab_std")
            object.__setattr__(self, name, value)
        if not is_int(self.fitted_on) or self.fitted_on < 0:
            raise _check.bad("fitted_on", self.fitted_on, "an integer >= 0")

    @property
    def is_none(self) -> bool:
        """True for method ``"none"``: images pass unchanged."""
        return self.method == "none"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        for name in _FIELDS[self.method]:
            value = getattr(self, name)
            out[name] = [list(v) for v in value] if name == "stain_vectors" else list(value)
        if self.fitted_on:
            out["fitted_on"] = self.fitted_on
        return out

    def to_json(self, *, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str | None) -> StainNormalisation:
        """Build from a dict (``to_dict``), a method name without a target (``"none"``) or
        None (``"none"``); unknown keys are an error that names them."""
        if data is None:
            return cls()
        if isinstance(data, str):
            return cls(method=data)
        if not isinstance(data, Mapping):
            raise ValueError(f"stain normalisation is a JSON object, got {type(data).__name__}")
        known = ("method", "stain_vectors", "max_concentrations", "lab_mean", "lab_std",
                 "fitted_on")  # fmt: skip
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise _check.bad(unknown[0], data[unknown[0]], f"one of the fields {list(known)}")
        return cls(**dict(data))

    @classmethod
    def from_json(cls, text: str) -> StainNormalisation:
        return cls.from_dict(json.loads(text))


# --- CIELAB ---------------------------------------------------------------------------------

_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])  # D65, 2 degrees
_EPS, _KAPPA = 0.008856, 7.787
# float32 throughout (1e-4 of a LAB unit): twice as fast, and the result is rounded to 8 bits
_TO_T = (_XYZ.T / _WHITE).astype(np.float32)
_FROM_T = (np.diag(_WHITE) @ np.linalg.inv(_XYZ).T).astype(np.float32)


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = rgb / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _encode(lin: np.ndarray) -> np.ndarray:
    return 255.0 * np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


_LINEAR_LUT = _linear(np.arange(256, dtype=np.float64)).astype(np.float32)
_STEPS = 65535  # sRGB encoding looked up at 1/65535 of linear light (within 0.05 of a level)
_ENCODE_LUT = _encode(np.linspace(0.0, 1.0, _STEPS + 1)).astype(np.float32)


def rgb_to_lab(image: np.ndarray) -> np.ndarray:
    """CIELAB ``(..., 3)`` float32 of sRGB values (uint8, or float 0-255); as
    ``skimage.color.rgb2lab`` (D65) to 1e-3."""
    arr = np.asarray(image)[..., :3]
    if arr.dtype == np.uint8:
        lin = _LINEAR_LUT[arr]
    else:
        lin = _linear(np.clip(arr, 0, 255).astype(np.float32)).astype(np.float32)
    t = lin @ _TO_T
    f = np.where(t > _EPS, np.cbrt(t), np.float32(_KAPPA) * t + np.float32(16.0 / 116.0))
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB float32 ``(..., 3)`` in 0-255 (clipped, not rounded): the inverse of
    :func:`rgb_to_lab` (to 0.05 of a level)."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    t = np.where(f > 6.0 / 29.0, f**3, (f - np.float32(16.0 / 116.0)) / np.float32(_KAPPA))
    lin = np.clip(t @ _FROM_T, 0.0, 1.0)
    return _ENCODE_LUT[np.rint(lin * _STEPS).astype(np.int32)]


# --- measuring one image ----------------------------------------------------------------------


def _rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"stain normalisation: expected an RGB image (M, N, 3), got {arr.shape}")
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"stain normalisation: expected uint8 or float 0-255, got {arr.dtype}")
    return arr[..., :3]


def _channel_min(values: np.ndarray) -> np.ndarray:
    """Per pixel the smallest of the three channels (``min(axis=-1)``, many times faster)."""
    a, b, c = values[..., 0], values[..., 1], values[..., 2]
    return np.minimum(np.minimum(a, b), c)


def _pixels(image: np.ndarray) -> np.ndarray:
    """``(N, 3)`` pixels of ``image`` to measure (a regular stride, at most 250,000)."""
    flat = _rgb(image).reshape(-1, 3)
    step = -(-len(flat) // _MAX_MEASURED)
    return flat[::step]


def _macenko_source(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(vectors (2, 3), max concentrations (2,))`` of ``pixels``, or None."""
    od = optical_density(pixels[None]).reshape(-1, 3).astype(np.float64)
    found = macenko_vectors(
        od, beta=BETA, alpha=ALPHA, min_pixels=MIN_PIXELS, max_pixels=200_000, seed=0
    )
    if isinstance(found, str):
        return None
    vectors = np.stack(found)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stained = od[_channel_min(od) >= BETA]
    conc = stained @ np.linalg.pinv(vectors)
    peaks = np.percentile(conc, PERCENTILE, axis=0)
    if not np.all(np.isfinite(peaks)) or peaks.min() <= 1e-6:
        return None
    return vectors, peaks


def _reinhard_source(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    tissue = pixels[_channel_min(pixels) < TISSUE_BELOW]
    if len(tissue) < MIN_PIXELS:
        return None
    lab = rgb_to_lab(tissue)
    mean, std = lab.mean(axis=0, dtype=np.float64), lab.std(axis=0, dtype=np.float64)
    if not np.all(np.isfinite(mean)) or std.min() <= 1e-6:
        return None
    return mean, std


def _target(method: str, first: Any, second: Any, fitted_on: int) -> StainNormalisation:
    names = _FIELDS[method]
    data = {"method": method, names[0]: np.asarray(first).tolist(),
            names[1]: np.asarray(second).tolist(), "fitted_on": fitted_on}  # fmt: skip
    return StainNormalisation.from_dict(data)


def measure_stain(image: np.ndarray, method: str) -> StainNormalisation | None:
    """The stain of ``image`` itself as a target of ``method`` (``fitted_on`` 1), or None
    when it cannot be measured (glass only, too few stained pixels, not physical).

    ``"none"`` gives ``StainNormalisation()``.
    """
    _check.check_choice("method", method, METHODS)
    if method == "none":
        return StainNormalisation()
    found = (_macenko_source if method == "macenko" else _reinhard_source)(_pixels(image))
    if found is None:
        return None
    try:
        return _target(method, found[0], found[1], 1)
    except ValueError:  # an estimate no target may hold: not measurable
        return None


def fit_stain_normalisation(images: Iterable[np.ndarray], method: str) -> StainNormalisation:
    """The target of ``method`` for ``images``: the median of their own estimates.

    Parameters
    ----------
    images : iterable of (M, N, 3) ndarray
        RGB, uint8 or float 0-255 (training images; a single reference image works too).
    method : {'none', 'macenko', 'reinhard'}

    Returns
    -------
    StainNormalisation
        ``fitted_on`` is the number of images whose stain could be measured.

    Raises
    ------
    ValueError
        When no image's stain can be measured.
    """
    _check.check_choice("method", method, METHODS)
    if method == "none":
        return StainNormalisation()
    found = [m for m in (measure_stain(image, method) for image in images) if m is not None]
    if not found:
        raise ValueError(
            f"stain normalisation {method!r}: no image has enough stained tissue to measure "
            f"its stain (at least {MIN_PIXELS} pixels); use another method or 'none'"
        )
    first, second = (
        np.median(np.asarray([getattr(m, name) for m in found]), axis=0) for name in _FIELDS[method]
    )
    return _target(method, first, second, len(found))


# --- applying it ----------------------------------------------------------------------------


def _as_uint8(image: np.ndarray) -> np.ndarray:
    arr = _rgb(image)
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _macenko(image: np.ndarray, source: StainNormalisation, target: StainNormalisation) -> Any:
    od = optical_density(image)  # float32
    gain = np.asarray(target.max_concentrations) / np.asarray(source.max_concentrations)
    gain = np.clip(gain, 1.0 / MAX_GAIN, MAX_GAIN)
    # source OD -> its stain amounts, scaled, -> target OD: one 3 x 3 matrix per pixel
    mapping = (
        np.linalg.pinv(np.asarray(source.stain_vectors)) * gain @ np.asarray(target.stain_vectors)
    )
    return 256.0 * np.power(np.float32(10.0), -(od @ mapping.astype(np.float32))) - 1.0


def _reinhard(image: np.ndarray, source: StainNormalisation, target: StainNormalisation) -> Any:
    gain = np.asarray(target.lab_std) / np.asarray(source.lab_std)
    offset = np.asarray(target.lab_mean) - np.asarray(source.lab_mean) * gain
    moved = lab_to_rgb(rgb_to_lab(image) * gain.astype(np.float32) + offset.astype(np.float32))
    lo, hi = GLASS_RAMP
    darkest = _channel_min(image).astype(np.float32)
    weight = np.clip((hi - darkest) / (hi - lo), 0.0, 1.0)
    return weight[..., None] * moved + (1.0 - weight[..., None]) * image


def normalise(
    image: np.ndarray, norm: StainNormalisation, *, source: StainNormalisation | None = None
) -> np.ndarray:
    """``image`` with its stain brought to the target ``norm``.

    Parameters
    ----------
    image : (M, N, 3) ndarray
        RGB, uint8 or float 0-255 (an alpha channel is dropped).
    norm : StainNormalisation
        The target (method ``"none"``: the image is returned as uint8, unchanged).
    source : StainNormalisation, optional
        The stain of the image as :func:`measure_stain` gives it, measured once for many
        pieces of one picture (a slide's windows); default: measured from ``image``.

    Returns
    -------
    (M, N, 3) uint8 ndarray
        Unchanged when the image's stain cannot be measured.
    """
    arr = _as_uint8(image)
    if norm.is_none:
        return arr
    if source is None:
        source = measure_stain(arr, norm.method)
    if source is None:
        return arr
    if source.method != norm.method:
        raise ValueError(f"a {source.method!r} source stain for a {norm.method!r} normalisation")
    out = (_macenko if norm.method == "macenko" else _reinhard)(arr, source, norm)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def stain_normaliser(
    norm: StainNormalisation, sample: np.ndarray
) -> Callable[[np.ndarray], np.ndarray] | None:
    """A function that normalises pieces of one picture by the stain measured on ``sample``
    (e.g. windows of a slide read over its tissue), so that the pieces agree at their seams.

    Returns None for method ``"none"``; a function returning its input unchanged when the
    sample's stain cannot be measured.
    """
    if norm.is_none:
        return None
    source = measure_stain(sample, norm.method)
    if source is None:
        return _as_uint8
    return lambda window: normalise(window, norm, source=source)
