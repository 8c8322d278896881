"""Whole slides: reading levels and regions, microns per pixel, tissue, streaming prediction.

Open any slide with :func:`open_slide` (readers: :mod:`segkit.slides.readers`), choose a
level by resolution with :func:`level_for_mpp`, find the tissue with :func:`detect_tissue`,
predict its mask with :func:`predict_slide` (or band by band, :class:`SlideMaskStream`, whose
bands also feed :meth:`SlideNuclei.passes`), stream its nuclei with :class:`SlideNuclei`, draw a
mask level over a slide level with :func:`mask_over_slide`, and generate test slides with
:func:`make_synthetic_slide`. See docs/slides.md.
"""

from segkit.slides.base import ArraySlide, Slide, best_level
from segkit.slides.cells import NucleusBand, SlideNuclei
from segkit.slides.mask_levels import mask_level_sizes, mask_over_slide, read_mask_level
from segkit.slides.mpp import level_for_mpp, slide_mpp
from segkit.slides.predict import SlideMaskStream, SlideResult, predict_slide, slide_name
from segkit.slides.readers import Reader, SlideReadError, is_slide, open_slide, register_reader
from segkit.slides.synthetic import SyntheticSlide, make_synthetic_slide, slide_from_tiles
from segkit.slides.tissue import (
    Tissue,
    detect_tissue,
    save_tissue_png,
    tissue_png_name,
    tissue_tiles,
)
from segkit.slides.writer import PyramidMaskWriter

__all__ = [
    "ArraySlide",
    "Slide",
    "best_level",
    "open_slide",
    "is_slide",
    "Reader",
    "SlideReadError",
    "register_reader",
    "level_for_mpp",
    "slide_mpp",
    "Tissue",
    "detect_tissue",
    "tissue_tiles",
    "tissue_png_name",
    "save_tissue_png",
    "SyntheticSlide",
    "make_synthetic_slide",
    "slide_from_tiles",
    "PyramidMaskWriter",
    "SlideMaskStream",
    "SlideResult",
    "predict_slide",
    "slide_name",
    "SlideNuclei",
    "NucleusBand",
    "mask_level_sizes",
    "read_mask_level",
    "mask_over_slide",
]
