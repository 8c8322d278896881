"""A model-free nucleus detector in the style of QuPath's "Positive cell detection".

Steps: deconvolve, nucleus signal = sum of the chosen stains' OD (hematoxylin + DAB, so that
both negative and positive nuclei light up), Gaussian smoothing, a threshold (Otsu's or a
fixed OD), hole filling, splitting of touching nuclei by a distance-transform watershed, and
removal of objects outside the area limits. Sizes are in µm and converted with ``mpp``.

Defaults assume a ~40x brightfield IHC image (``mpp`` 0.25 µm/px) of nuclei about 5-12 µm
across (20-50 px): smoothing sigma 1 µm, areas 10-400 µm² (QuPath's defaults), watershed
seeds at least 3 µm apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy import ndimage

from segkit.stain import H_DAB, StainVectors, separate_stains, stain_preset
from segkit.validation import FieldChecker, is_number

__all__ = ["ClassicalConfig", "detect_nuclei", "nucleus_signal"]

_check = FieldChecker("classical detector field")


@dataclass(frozen=True)
class ClassicalConfig:
    """Parameters of :func:`detect_nuclei` (sizes in µm, intensities in OD).

    Parameters
    ----------
    mpp : float
        Microns per pixel of the image (0.25 at ~40x, 0.5 at ~20x).
    signal : tuple of str
        Stains whose OD is summed into the nucleus signal.
    sigma_um : float
        Gaussian smoothing of the signal (0: none).
    threshold : float or "otsu"
        Signal OD above which a pixel is nucleus; ``"otsu"``: Otsu's threshold of the image,
        but never below ``min_threshold``.
    min_threshold : float
        Lower bound on Otsu's threshold (an image with little stain stays empty).
    min_area_um2, max_area_um2 : float
        Objects outside these limits (after splitting) are removed.
    split_distance_um : float
        Least distance between two watershed seeds (about a nucleus radius); 0: no split.
    """

    mpp: float = 0.25
    signal: tuple[str, ...] = ("Hematoxylin", "DAB")
    sigma_um: float = 1.0
    threshold: float | str = "otsu"
    min_threshold: float = 0.1
    min_area_um2: float = 10.0
    max_area_um2: float = 400.0
    split_distance_um: float = 3.0

    def __post_init__(self) -> None:
        _check.check_float("mpp", self.mpp, minimum=0.0, exclusive_minimum=True)
        sig = self.signal
        if (
            isinstance(sig, str)
            or not isinstance(sig, tuple | list)
            or not sig
            or not all(isinstance(s, str) for s in sig)
        ):
            raise _check.bad("signal", sig, "a non-empty list of stain names")
        object.__setattr__(self, "signal", tuple(sig))
        _check.check_float("sigma_um", self.sigma_um, minimum=0.0)
        if not (self.threshold == "otsu" or (is_number(self.threshold) and self.threshold > 0)):
            raise _check.bad("threshold", self.threshold, '"otsu" or an OD > 0')
        _check.check_float("min_threshold", self.min_threshold, minimum=0.0)
        _check.check_float("min_area_um2", self.min_area_um2, minimum=0.0)
        _check.check_float("max_area_um2", self.max_area_um2, minimum=self.min_area_um2)
        _check.check_float("split_distance_um", self.split_distance_um, minimum=0.0)

    def px(self, microns: float) -> float:
        """``microns`` in pixels."""
        return microns / self.mpp

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["signal"] = list(self.signal)
        return data

    def to_json(self, *, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassicalConfig:
        """Build from a dict; an unknown key is an error that names it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _check.bad(unknown[0], data[unknown[0]], f"no such field; known: {sorted(known)}")
        data = dict(data)
        if isinstance(data.get("signal"), list):
            data["signal"] = tuple(data["signal"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> ClassicalConfig:
        return cls.from_dict(json.loads(text))


def nucleus_signal(
    image: np.ndarray, config: ClassicalConfig, stains: StainVectors | str = H_DAB
) -> np.ndarray:
    """The smoothed sum of ``config.signal`` stain ODs, ``(M, N)`` float32."""
    sv = stain_preset(stains)
    conc = separate_stains(image, sv)
    signal = np.zeros(conc.shape[:2], dtype=np.float32)
    for stain in config.signal:
        signal += conc[..., sv.index(stain)]
    if config.sigma_um > 0:
        signal = ndimage.gaussian_filter(signal, config.px(config.sigma_um))
    return signal


def detect_nuclei(
    image: np.ndarray,
    config: ClassicalConfig | None = None,
    *,
    stains: StainVectors | str = H_DAB,
) -> np.ndarray:
    """Instance labels of the nuclei of a brightfield IHC image, without a model.

    Parameters
    ----------
    image : (M, N, 3) ndarray
        8-bit RGB.
    config : ClassicalConfig, optional
    stains : StainVectors or preset name

    Returns
    -------
    labels : (M, N) int32 ndarray
        0 background, 1..K the nuclei (contiguous ids).
    """
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    cfg = config or ClassicalConfig()
    signal = nucleus_signal(image, cfg, stains)
    if cfg.threshold == "otsu":
        finite = signal[np.isfinite(signal)]
        level = float(threshold_otsu(finite)) if finite.size and np.ptp(finite) > 0 else np.inf
        level = max(level, cfg.min_threshold)
    else:
        level = float(cfg.threshold)
    mask = ndimage.binary_fill_holes(signal > level)
    components, count = ndimage.label(mask)
    if count == 0:
        return np.zeros(mask.shape, dtype=np.int32)
    labels = components
    if cfg.split_distance_um > 0:
        distance = ndimage.distance_transform_edt(mask)
        distance = ndimage.gaussian_filter(distance, 1.0)
        min_distance = max(1, int(round(cfg.px(cfg.split_distance_um))))
        peaks = peak_local_max(
            distance, min_distance=min_distance, labels=components, exclude_border=False
        )
        markers = np.zeros(mask.shape, dtype=np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        # a component without a peak keeps one seed so that it is not lost
        seeded = np.zeros(count + 1, dtype=bool)
        seeded[components[tuple(peaks.T)]] = True
        orphans = ~seeded[components] & mask
        markers[orphans] = components[orphans] + len(peaks)
        labels = watershed(-distance, markers, mask=mask)
    return _filter_areas(labels, cfg)


def _filter_areas(labels: np.ndarray, cfg: ClassicalConfig) -> np.ndarray:
    area = np.bincount(labels.ravel())
    area_um2 = area * cfg.mpp**2
    keep = (area_um2 >= cfg.min_area_um2) & (area_um2 <= cfg.max_area_um2)
    keep[0] = False
    new_ids = np.zeros(len(area), dtype=np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1)
    return new_ids[labels]
