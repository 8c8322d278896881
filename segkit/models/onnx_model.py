"""An exported ``.onnx`` model run by ONNX Runtime wherever segkit takes a model.

:func:`load_onnx_model` opens a file written by :func:`segkit.models.export_onnx` and returns an
:class:`OnnxModel` with its :class:`~segkit.models.ModelInfo` (read from the file's metadata).
An :class:`OnnxModel` offers the few things segkit's predictors ask of a Keras model
(``predict_on_batch``, ``input_shape``, ``output_shape``, the size multiple), so
``segkit predict model.onnx ...``, :func:`segkit.predict`, evaluation, Ki-67 scoring and slide
prediction run the graph with everything around it unchanged: stain normalisation, scale,
tiling, the decision and the watershed. It cannot be trained or fine-tuned.

Only ``onnxruntime`` is needed (not ``onnx`` nor ``tf2onnx``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from segkit.models.saving import ModelInfo

__all__ = [
    "INFO_KEY",
    "INPUT_NAME",
    "INTERFACE_KEY",
    "OUTPUT_NAME",
    "OnnxModel",
    "is_onnx_path",
    "load_onnx_model",
]

INPUT_NAME = "image"
"""The graph's one input: raw images, float32 NHWC."""
OUTPUT_NAME = "probabilities"
"""The graph's one output: probabilities, float32 NHWC."""
INFO_KEY = "segkit.model_info"
"""Metadata key of the model's :class:`ModelInfo` JSON."""
INTERFACE_KEY = "segkit.interface"
"""Metadata key of the interface JSON (names, layout, size multiple, what is outside the graph)."""


def is_onnx_path(value: Any) -> bool:
    """Whether ``value`` is a path (string or path-like) whose name ends in ``.onnx``."""
    return isinstance(value, str | os.PathLike) and Path(value).suffix.lower() == ".onnx"


class OnnxModel:
    """An exported segkit model run by ONNX Runtime, shaped like the Keras model it came from.

    Parameters
    ----------
    path : path
        The ``.onnx`` file.
    session : onnxruntime.InferenceSession
        Its session.
    interface : dict
        The file's ``segkit.interface`` metadata (names, layout, size multiple).
    info : ModelInfo
        The file's ``segkit.model_info`` metadata.

    Attributes
    ----------
    input_shape, output_shape : tuple
        ``(None, H, W, C)`` as Keras reports them; ``None`` for a free dimension.
    size_multiple : int
        Height and width of an input must divide by it (``2**depth``).
    """

    def __init__(
        self, path: Path, session: Any, interface: dict[str, Any], info: ModelInfo
    ) -> None:
        self.path = Path(path)
        self.session = session
        self.interface = interface
        self.info = info
        self.name = self.path.stem
        self.size_multiple = int(interface["input"]["size_multiple"])
        self.input_shape = _shape(session.get_inputs()[0].shape)
        self.output_shape = _shape(session.get_outputs()[0].shape)
        self._digest: str | None = None

    def predict_on_batch(self, batch: Any) -> np.ndarray:
        """Probabilities ``(N, H, W, K)`` for a batch of raw images ``(N, H, W, C)``, any dtype."""
        x = np.ascontiguousarray(batch, dtype=np.float32)
        (out,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: x})
        return np.asarray(out, dtype=np.float32)

    def predict(self, x: Any, batch_size: int = 8, verbose: Any = 0) -> np.ndarray:
        """:meth:`predict_on_batch` in batches of ``batch_size``, as ``keras.Model.predict``."""
        x = np.asarray(x)
        parts = [self.predict_on_batch(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)

    def file_digest(self) -> str:
        """SHA-256 of the file, 16 hex digits: the identity of its weights."""
        if self._digest is None:
            from segkit.files import sha256_file

            self._digest = sha256_file(self.path)[:16]
        return self._digest

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r})"


_PREFERRED = ("CUDAExecutionProvider",)


def _shape(dims: Any) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)


def load_onnx_model(
    path: str | Path, *, threads: int | None = None, providers: list[str] | None = None
) -> tuple[OnnxModel, ModelInfo]:
    """Open an ``.onnx`` file written by ``segkit export`` for prediction.

    Parameters
    ----------
    path : path
        The file.
    threads : int, optional
        ONNX Runtime's intra-op threads; its default (every core) when ``None``.
    providers : list of str, optional
        ONNX Runtime's execution providers in order of preference; default: CUDA when the
        installed onnxruntime has it (``onnxruntime-gpu``), then the CPU.

    Returns
    -------
    (OnnxModel, ModelInfo)

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        onnxruntime is not installed, the file is not ONNX, or it lacks segkit's metadata.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "no such file", str(p))
    try:
        import onnxruntime
    except ImportError:
        raise ValueError(
            f"{p}: running an ONNX model needs onnxruntime: pip install 'segkit[onnx]' "
            "(or pip install onnxruntime)"
        ) from None
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    if providers is None:
        available = onnxruntime.get_available_providers()
        providers = [x for x in _PREFERRED if x in available] + ["CPUExecutionProvider"]
    try:
        session = onnxruntime.InferenceSession(
            os.fspath(p), sess_options=options, providers=providers
        )
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph / ... types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{p}: not a model ONNX Runtime can run ({first})") from None
    meta = session.get_modelmeta().custom_metadata_map
    if INFO_KEY not in meta or INTERFACE_KEY not in meta:
        raise ValueError(f"{p}: no segkit metadata (write the file with segkit export)")
    names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    if names != ([INPUT_NAME], [OUTPUT_NAME]):
        raise ValueError(
            f"{p}: expected one input {INPUT_NAME!r} and one output {OUTPUT_NAME!r}, found "
            f"{names[0]} and {names[1]}"
        )
    info = ModelInfo.from_json(meta[INFO_KEY])
    return OnnxModel(p, session, json.loads(meta[INTERFACE_KEY]), info), info
