"""Microns per pixel: read from each kind of slide metadata, and used to choose a level.

Every reader reports ``mpp = (x, y)`` in micrometres per pixel at level 0, or None when the
file does not say. The sources, in the order the readers try them:

- **OpenSlide** properties ``openslide.mpp-x`` / ``openslide.mpp-y`` (already in µm; OpenSlide
  derives them from the vendor metadata: Aperio ``MPP``, Hamamatsu, MIRAX, Leica, and the
  TIFF resolution tags of a generic TIFF);
- **OME-XML** ``Pixels/@PhysicalSizeX`` and ``@PhysicalSizeY``, in the unit of
  ``PhysicalSizeXUnit`` (default ``µm``; ``nm``, ``mm``, ``cm``, ``m``, ``in`` converted);
- **TIFF tags** ``XResolution`` / ``YResolution`` (pixels per unit) with ``ResolutionUnit``:
  2 = inch (25,400 µm), 3 = centimetre (10,000 µm); 1 (no unit) gives None;
- **Aperio** ``ImageDescription`` ``... | MPP = 0.2527 | ...`` (µm).

Values that are missing, zero, negative, not finite or above :data:`MAX_MPP` count as unknown.
A slide without mpp is read at its pixel scale: :func:`slide_mpp` refuses it unless an assumed
scale is passed, and then says which scale it assumes.
"""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from segkit.slides.base import Slide, best_level

__all__ = [
    "MAX_MPP",
    "UNIT_MICRONS",
    "to_microns",
    "mpp_from_openslide",
    "mpp_from_ome",
    "mpp_from_tiff_resolution",
    "mpp_from_aperio",
    "slide_mpp",
    "level_for_mpp",
]

log = logging.getLogger(__name__)

#: Above this many µm per pixel a value is taken for a mistake (a 1 mm pixel is not a slide).
MAX_MPP = 1000.0

#: Micrometres in one unit, by the unit names of OME-XML (and their usual spellings).
UNIT_MICRONS: dict[str, float] = {
    "pm": 1e-6,
    "nm": 1e-3,
    "µm": 1.0,
    "μm": 1.0,  # Greek mu
    "um": 1.0,
    "micron": 1.0,
    "mm": 1e3,
    "cm": 1e4,
    "m": 1e6,
    "in": 25_400.0,
    "inch": 25_400.0,
}

#: TIFF ``ResolutionUnit``: 2 = inch, 3 = centimetre (1 = no absolute unit).
_TIFF_UNITS = {2: 25_400.0, 3: 10_000.0}


def _valid(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value <= 0 or value > MAX_MPP:
        return None
    return float(value)


def _pair(x: float | None, y: float | None) -> tuple[float, float] | None:
    x, y = _valid(x), _valid(y)
    if x is None and y is None:
        return None
    return (x or y, y or x)  # type: ignore[return-value]  # one of them is a float


def _number(text: object) -> float | None:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return None


def to_microns(value: float, unit: str) -> float:
    """``value`` in ``unit`` (a key of :data:`UNIT_MICRONS`) as micrometres.

    Raises
    ------
    ValueError
        For a unit not in :data:`UNIT_MICRONS`.
    """
    factor = UNIT_MICRONS.get(unit.strip()) or UNIT_MICRONS.get(unit.strip().lower())
    if factor is None:
        raise ValueError(f"unknown length unit {unit!r}; expected one of {sorted(UNIT_MICRONS)}")
    return float(value) * factor


def mpp_from_openslide(properties: Mapping[str, str]) -> tuple[float, float] | None:
    """``(x, y)`` µm per pixel from OpenSlide's ``openslide.mpp-x`` / ``openslide.mpp-y``."""
    return _pair(
        _number(properties.get("openslide.mpp-x")), _number(properties.get("openslide.mpp-y"))
    )


def mpp_from_ome(xml: str, *, image: int = 0) -> tuple[float, float] | None:
    """``(x, y)`` µm per pixel from ``PhysicalSizeX/Y`` of OME-XML image ``image``.

    The unit attributes ``PhysicalSizeXUnit`` / ``PhysicalSizeYUnit`` default to ``µm`` as in
    the OME schema. Unparsable XML or an unknown unit gives None.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    pixels = [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"]
    if len(pixels) <= image:
        return None
    attrs = pixels[image].attrib
    sizes = []
    for axis in ("X", "Y"):
        value = _number(attrs.get(f"PhysicalSize{axis}"))
        try:
            sizes.append(
                None
                if value is None
                else to_microns(value, attrs.get(f"PhysicalSize{axis}Unit", "µm"))
            )
        except ValueError:
            sizes.append(None)
    return _pair(sizes[0], sizes[1])


def _rational(value: object) -> float | None:
    if isinstance(value, tuple | list) and len(value) == 2:
        num, den = _number(value[0]), _number(value[1])
        return None if num is None or not den else num / den
    return _number(value)


def mpp_from_tiff_resolution(
    x_resolution: object, y_resolution: object, unit: int | None
) -> tuple[float, float] | None:
    """``(x, y)`` µm per pixel from TIFF ``XResolution``/``YResolution`` and ``ResolutionUnit``.

    Parameters
    ----------
    x_resolution, y_resolution : float or (int, int)
        Pixels per unit, as a number or the TIFF rational ``(numerator, denominator)``.
    unit : int or None
        ``ResolutionUnit``: 2 = inch, 3 = centimetre. Anything else (1 = none, the TIFF
        default of inch when the tag is missing is not trusted) gives None.
    """
    microns = _TIFF_UNITS.get(int(unit)) if unit is not None else None
    if microns is None:
        return None
    px, py = _rational(x_resolution), _rational(y_resolution)
    return _pair(microns / px if px else None, microns / py if py else None)


_APERIO_MPP = re.compile(r"\|\s*MPP\s*=\s*([0-9.eE+-]+)")


def mpp_from_aperio(description: str) -> tuple[float, float] | None:
    """``(mpp, mpp)`` from an Aperio ``ImageDescription`` (``Aperio ... | MPP = 0.2527 | ...``)."""
    if not description.startswith("Aperio"):
        return None
    match = _APERIO_MPP.search(description)
    return _pair(_number(match.group(1)), _number(match.group(1))) if match else None


def slide_mpp(slide: Slide, *, assume: float | None = None) -> tuple[float, float]:
    """The slide's ``(x, y)`` µm per pixel; when it has none, ``(assume, assume)`` with a warning.

    Raises
    ------
    ValueError
        When the slide has no mpp and ``assume`` is None: one line that says so and how to go on.
    """
    if slide.mpp is not None:
        return slide.mpp
    if assume is None:
        raise ValueError(
            f"{slide.path}: the file does not say its microns per pixel; pass an assumed scale "
            "(e.g. 0.25 for a 40x scan, 0.5 for 20x) or work in pixels at level 0"
        )
    if _valid(assume) is None:
        raise ValueError(f"assume: expected microns per pixel in (0, {MAX_MPP}], got {assume!r}")
    log.warning("%s: no microns per pixel in the file; assuming %g µm/px", slide.path, assume)
    return (float(assume), float(assume))


def level_for_mpp(
    slide: Slide, target_mpp: float, *, assume: float | None = None
) -> tuple[int, float]:
    """The level to read for ``target_mpp`` µm per pixel, and the downsample still to apply.

    The level is the coarsest one that is at least as fine as ``target_mpp`` (it never
    upsamples when the slide is finer than the target); ``extra_downsample`` is the factor by
    which its pixels must still shrink (1.0 when a level matches; below 1 only when the target
    is finer than level 0). The slide's mpp is the mean of x and y; a slide without mpp needs
    ``assume`` (see :func:`slide_mpp`).

    Returns
    -------
    (level, extra_downsample) : (int, float)
    """
    if _valid(target_mpp) is None:
        raise ValueError(f"target_mpp: expected microns per pixel > 0, got {target_mpp!r}")
    mx, my = slide_mpp(slide, assume=assume)
    downsample = float(target_mpp) / ((mx + my) / 2)
    level = best_level(slide, downsample)
    extra = downsample / slide.level_downsamples[level]
    if abs(extra - 1.0) < 1e-3:
        extra = 1.0
    return level, extra
