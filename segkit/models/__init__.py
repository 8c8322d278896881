"""U-Net models: building, saving and loading them with their metadata."""

from segkit.models.unet import build_unet, check_input_size

__all__ = ["build_unet", "check_input_size"]
