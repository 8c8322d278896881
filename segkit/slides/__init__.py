"""Whole slides: reading levels and regions, microns per pixel, tissue, streaming prediction."""

from segkit.slides.base import ArraySlide, Slide, best_level
from segkit.slides.predict import SlideResult, predict_slide, slide_name
from segkit.slides.writer import PyramidMaskWriter

__all__ = [
    "ArraySlide",
    "PyramidMaskWriter",
    "Slide",
    "SlideResult",
    "best_level",
    "predict_slide",
    "slide_name",
]
