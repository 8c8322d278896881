"""What the prediction viewer does, as plain functions (no ipywidgets here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["resolve_model", "decode_upload", "predict_mask"]


def resolve_model(model: Any) -> tuple[Any, Any]:
    """``(keras.Model, ModelInfo)`` from a run or model folder, a ``.keras`` file, a
    :class:`segkit.runs.Run`, a ``(model, info)`` pair or a Keras model: see
    :func:`segkit.models.resolve_model`."""
    from segkit.models import resolve_model as resolve

    return resolve(model)


def decode_upload(value: Any) -> tuple[str, np.ndarray]:
    """Name and pixels of the first file of an ``ipywidgets.FileUpload`` value.

    Accepts the ipywidgets 8 form (a tuple of dicts with ``name`` and ``content``) and the
    ipywidgets 7 form (a dict of name to dict with ``content``).
    """
    from segkit.imaging import decode_image, to_uint8

    if isinstance(value, Mapping):
        value = [{"name": k, **v} for k, v in value.items()]
    files = list(value or ())
    if not files:
        raise ValueError("no file uploaded")
    first = files[0]
    name = str(first.get("name", "upload.png"))
    return name, to_uint8(decode_image(bytes(first["content"]), name))


def predict_mask(model: Any, info: Any, image: np.ndarray, *, tta: bool = False) -> np.ndarray:
    """Class-index mask of a raw image (:func:`segkit.inference.predict`, tiled as needed)."""
    from segkit.inference import predict

    return predict(model, image, info=info, tta=tta)
