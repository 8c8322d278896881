"""U-Net models: building, saving and loading them with their metadata, and reading masks
from their probabilities."""

from segkit.decision import probabilities_to_mask
from segkit.models.export import export_onnx
from segkit.models.flops import count_flops
from segkit.models.onnx_model import OnnxModel, load_onnx_model
from segkit.models.resolve import resolve_model
from segkit.models.saving import ModelInfo, load_model, save_model
from segkit.models.unet import build_unet, check_input_size

__all__ = [
    "ModelInfo",
    "OnnxModel",
    "build_unet",
    "check_input_size",
    "count_flops",
    "export_onnx",
    "load_model",
    "load_onnx_model",
    "probabilities_to_mask",
    "resolve_model",
    "save_model",
]
