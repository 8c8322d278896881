"""Prediction on images of any size: Gaussian-blended sliding windows, optional flip TTA."""

from segkit.imaging import encode_mask
from segkit.inference.output import overlay_image, save_mask, save_overlay
from segkit.inference.predict import predict, predict_proba, prepare_image
from segkit.inference.tiling import gaussian_importance, sliding_window, tile_grid

__all__ = [
    "predict",
    "predict_proba",
    "prepare_image",
    "sliding_window",
    "gaussian_importance",
    "tile_grid",
    "encode_mask",
    "save_mask",
    "overlay_image",
    "save_overlay",
]
