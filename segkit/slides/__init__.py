"""Whole slides: reading levels and regions, microns per pixel, tissue, streaming prediction."""

from segkit.slides.base import ArraySlide, Slide, best_level

__all__ = ["ArraySlide", "Slide", "best_level"]
