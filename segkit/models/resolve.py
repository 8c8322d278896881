"""From whatever names a model to ``(keras.Model, ModelInfo)``: the one resolver.

Prediction, evaluation and the widgets accept a model in any of these forms and hand it to
:func:`resolve_model`, so each form means the same thing everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from segkit.models.bundled import bundled_model_path, is_bundled_name
from segkit.models.onnx_model import OnnxModel, is_onnx_path, load_onnx_model
from segkit.models.saving import ModelInfo, load_model

__all__ = ["resolve_model"]

_EXPECTED = (
    "segkit:NAME (a bundled model), a run folder, a model folder, a .keras file, an .onnx "
    "file from segkit export, a segkit Run, a keras.Model or a (keras.Model, ModelInfo) pair"
)


def resolve_model(model: Any) -> tuple[Any, ModelInfo]:
    """The Keras model and its :class:`ModelInfo`, from any form that names a model.

    Parameters
    ----------
    model : str, path, Run, keras.Model or (keras.Model, ModelInfo or None)
        - ``"segkit:NAME"``: a model shipped inside the package, e.g. ``"segkit:nuclei"``
          (:mod:`segkit.models.bundled`);
        - a run folder or a model folder (``model.keras`` with ``model.json``), or a
          ``.keras`` file: loaded by :func:`segkit.models.load_model`, which infers the info
          from the model when no ``model.json`` lies beside it;
        - an ``.onnx`` file written by ``segkit export``: an
          :class:`~segkit.models.onnx_model.OnnxModel` run by ONNX Runtime, with the info stored
          in the file (it predicts like the Keras model but cannot be trained);
        - a :class:`segkit.runs.Run` (any object whose ``path`` names a folder): its folder;
        - a ``(model, info)`` pair: returned as it is; an ``info`` of ``None`` is inferred;
        - a ``keras.Model``: the info is inferred by :meth:`ModelInfo.from_model` (no
          scale, colour model from the channels, threshold 0.5).

    Returns
    -------
    (keras.Model or OnnxModel, ModelInfo)

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a folder without ``model.keras``.
    ValueError
        A file that is not a ``.keras`` or segkit ``.onnx`` model, or one that does not load.
    TypeError
        Anything else; the message names what was given and what is accepted.
    """
    if is_onnx_path(model):
        return load_onnx_model(model)
    if isinstance(model, OnnxModel):
        return model, model.info
    if isinstance(model, tuple):
        return _pair(model)
    if isinstance(model, str) and is_bundled_name(model):
        return load_model(bundled_model_path(model))
    if isinstance(model, str | os.PathLike):
        return load_model(Path(model))
    import keras

    if isinstance(model, keras.Model):
        return model, ModelInfo.from_model(model)
    path = getattr(model, "path", None)  # a segkit.runs.Run
    if isinstance(path, str | os.PathLike):
        return load_model(Path(path))
    raise TypeError(f"cannot resolve a model from {_describe(model)}; expected {_EXPECTED}")


def _pair(pair: tuple[Any, ...]) -> tuple[Any, ModelInfo]:
    import keras

    if len(pair) == 2 and isinstance(pair[0], OnnxModel) and isinstance(pair[1], ModelInfo | None):
        return pair[0], pair[1] or pair[0].info
    if len(pair) != 2 or not isinstance(pair[0], keras.Model):
        kinds = ", ".join(type(x).__name__ for x in pair)
        raise TypeError(f"cannot resolve a model from a tuple of ({kinds}); expected {_EXPECTED}")
    model, info = pair
    if info is None:
        return model, ModelInfo.from_model(model)
    if not isinstance(info, ModelInfo):
        raise TypeError(
            f"the info of a (model, info) pair is a {type(info).__name__}; expected a "
            "segkit.models.ModelInfo or None (None infers it from the model)"
        )
    return model, info


def _describe(value: Any) -> str:
    text = " ".join(repr(value).split())
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(value).__name__})"
