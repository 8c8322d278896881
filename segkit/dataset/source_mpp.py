"""Microns per pixel of a source, and what they make of the prepared pairs.

With a template ``mpp``, every source is rescaled by ``source mpp / template mpp`` before
it is cut into tiles, so that a prepared pixel is the same size in microns whatever the
scanner. A source's mpp comes from, in this order:

1. a whole slide's own metadata (:func:`segkit.slides.slide_mpp`: OpenSlide properties,
   OME-XML ``PhysicalSizeX/Y``, TIFF resolution tags, Aperio ``MPP``), the mean of x and y;
2. the ``MicronsPerPixel`` of the pair's Aperio ImageScope XML;
3. ``SourceLayout.mpp`` (``--source-mpp``): for plain tiles whose files do not say.

A file that states its scale wins over the option. When the template has an ``mpp`` and none
of the three gives one, ``prepare`` refuses with one line (:func:`missing_mpp`): a lab would
rather be told than train on a mixture of scales. Without a template ``mpp`` nothing is
rescaled; the records still say the source's mpp when it is known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["annotation_mpp", "missing_mpp", "mpp_fields", "rescale_factor"]


def annotation_mpp(path: Path) -> float | None:
    """``MicronsPerPixel`` of an Aperio XML file (None for other files or when absent)."""
    if path.suffix.lower() != ".xml":
        return None
    from segkit.annotations import read_aperio_xml

    mpp = read_aperio_xml(path).microns_per_pixel
    return float(mpp) if mpp is not None and mpp > 0 else None


def missing_mpp(template_mpp: float) -> str:
    """The reason ``prepare`` refuses a source without microns per pixel."""
    return (
        f"no microns per pixel (the template's mpp is {template_mpp:g}, and neither the file "
        "nor its annotations say its scale); pass --source-mpp (SourceLayout(mpp=...)) or "
        "drop the template's mpp"
    )


def rescale_factor(source_mpp: float | None, template_mpp: float | None) -> float:
    """``source mpp / template mpp`` (1.0 without a template mpp; 1.0 within 0.1 %)."""
    if template_mpp is None or source_mpp is None:
        return 1.0
    factor = float(source_mpp) / float(template_mpp)
    return 1.0 if abs(factor - 1.0) < 1e-3 else factor


def mpp_fields(
    source_mpp: float | None, template_mpp: float | None, scale: tuple[float, float]
) -> dict[str, Any]:
    """The ``source_mpp`` and ``mpp`` of a record (only those that are known).

    The output mpp is the template's when it has one; else the source's divided by the
    scale applied, when that scale is the same on both axes (within 0.1 %).
    """
    if source_mpp is None:
        return {}
    out: dict[str, Any] = {"source_mpp": float(source_mpp)}
    if template_mpp is not None:
        out["mpp"] = float(template_mpp)
    elif abs(scale[0] - scale[1]) <= 1e-3 * max(scale):
        out["mpp"] = float(source_mpp) / ((scale[0] + scale[1]) / 2)
    return out
