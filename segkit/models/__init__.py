"""U-Net models: building, saving and loading them with their metadata."""

from segkit.models.saving import ModelInfo, load_model, save_model
from segkit.models.unet import build_unet, check_input_size

__all__ = ["ModelInfo", "build_unet", "check_input_size", "load_model", "save_model"]
