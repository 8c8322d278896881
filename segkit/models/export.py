"""A segkit model as one ONNX file that runs without segkit, Keras or TensorFlow.

:func:`export_onnx` writes ``NAME.onnx`` and, beside it, ``NAME.json`` (the model's
:class:`~segkit.models.ModelInfo`, the same JSON as a model folder's ``model.json``). The ONNX
file carries the same information in its metadata (``segkit.model_info``) together with its
interface (``segkit.interface``), which :func:`read_onnx_info` reads back:

- input ``image``: float32, NHWC, raw pixel values 0..255 (the model rescales them itself), any
  batch, height and width that are multiples of ``size_multiple``;
- output ``probabilities``: float32, NHWC, one sigmoid channel for a binary model, else one
  softmax channel per class, in the order of ``class_names``.

What the graph does not do is stated there too: stain normalisation (when the model was trained
with it, ``stain_normalisation`` holds its fitted parameters and must be applied to the image
first), resampling to the model's ``mpp``, tiling, the foreground ``threshold`` and the
watershed of instance models.

The export uses Keras's exporter with ``tf2onnx`` (the ``onnx`` extra) under the TensorFlow
backend. A mixed-precision model is exported from a float32 copy of its weights. With
``onnxruntime`` installed the written graph is run on a test image beside the Keras model and the
file is kept only when the two agree within ``tolerance``; the file is written atomically.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segkit.models.onnx_model import INFO_KEY, INPUT_NAME, INTERFACE_KEY, OUTPUT_NAME
from segkit.models.resolve import resolve_model
from segkit.models.saving import ModelInfo
from segkit.models.unet import downsampling_factor

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "OnnxExport", "export_onnx", "read_onnx_info"]

_EXTRA = "pip install 'segkit[onnx]' (tf2onnx, onnx and onnxruntime)"


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote and how it was checked.

    Attributes
    ----------
    path, info_path : Path
        The ONNX file and its ``.json`` sidecar (the :class:`ModelInfo`).
    interface : dict
        Input and output names, layout, value range, ``size_multiple``, activation and what
        the caller must do around the graph (also in the file's metadata).
    check_shape : tuple of int
        The ``(1, H, W, C)`` test image both models were run on.
    max_abs_difference : float or None
        Largest difference between the ONNX and the Keras probabilities on that image; ``None``
        when onnxruntime is not installed (or ``verify=False``), so nothing was compared.
    seconds : float
        Time of the whole export.
    """

    path: Path
    info_path: Path
    interface: dict[str, Any]
    check_shape: tuple[int, int, int, int]
    max_abs_difference: float | None
    seconds: float


def _require(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise ValueError(f"ONNX export needs {name}: {_EXTRA}") from None


def _float32(model: Any) -> Any:
    """``model`` itself when it computes in float32, else a float32 copy with its weights."""
    import keras

    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def clone(layer: Any) -> Any:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def _interface(model: Any, info: ModelInfo, multiple: int) -> dict[str, Any]:
    channels = int(model.output_shape[-1])
    norm = info.stain_normalisation.method
    return {
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "layout": "NHWC",
            "channels": int(model.input_shape[-1]),
            "color_model": info.color_model,
            "values": "raw pixel values 0..255; the graph divides by 255",
            "size_multiple": multiple,
        },
        "output": {
            "name": OUTPUT_NAME,
            "dtype": "float32",
            "layout": "NHWC",
            "activation": "sigmoid" if channels == 1 else "softmax",
            "class_names": list(info.class_names),
        },
        "not_in_graph": {
            "stain_normalisation": norm,
            "mpp": info.mpp,
            "threshold": info.threshold,
            "target": info.target,
        },
    }


def _check_size(info: ModelInfo, model: Any, multiple: int) -> tuple[int, int]:
    """The test image's height and width: the model's fixed size, else its training size."""
    fixed = model.input_shape[1:3]
    if all(isinstance(s, int) for s in fixed):
        return int(fixed[0]), int(fixed[1])
    sizes = [s if isinstance(s, int) else 256 for s in info.input_shape[:2]]
    h, w = (max(multiple, s // multiple * multiple) for s in sizes)
    return h, w


def _rename_output(onnx: Any, path: Path, metadata: dict[str, str]) -> None:
    """Name the graph's input :data:`INPUT_NAME` and its output :data:`OUTPUT_NAME` (whatever
    the Keras model called them) and store ``metadata`` in the file."""
    graph_model = onnx.load(str(path))
    graph = graph_model.graph
    if len(graph.output) != 1 or len(graph.input) != 1:
        raise ValueError(
            f"ONNX export: expected one input and one output, got {len(graph.input)} and "
            f"{len(graph.output)}"
        )
    names = {graph.input[0].name: INPUT_NAME, graph.output[0].name: OUTPUT_NAME}
    for node in graph.node:
        node.input[:] = [names.get(name, name) for name in node.input]
        node.output[:] = [names.get(name, name) for name in node.output]
    graph.input[0].name, graph.output[0].name = INPUT_NAME, OUTPUT_NAME
    del graph_model.metadata_props[:]
    for key, value in metadata.items():
        entry = graph_model.metadata_props.add()
        entry.key, entry.value = key, value
    graph_model.producer_name = "segkit"
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, str(path))


def export_onnx(
    model: Any,
    path: str | Path,
    *,
    opset: int | None = None,
    verify: bool = True,
    tolerance: float = 1e-3,
) -> OnnxExport:
    """Write ``model`` as ``path`` (an ``.onnx`` file) and its info as ``path`` with ``.json``.

    Parameters
    ----------
    model : str, path, Run, keras.Model or (keras.Model, ModelInfo)
        Anything :func:`segkit.models.resolve_model` accepts, e.g. ``"segkit:nuclei"`` or a
        run folder.
    path : path
        The ONNX file to write; must end in ``.onnx``. An existing file is replaced, and only
        once the new one is complete (and, with ``verify``, checked).
    opset : int, optional
        ONNX opset; tf2onnx's default when ``None``.
    verify : bool
        Run the written graph with onnxruntime (when it is installed) beside the Keras model
        on a test image, and refuse the file when they differ by more than ``tolerance``.
    tolerance : float
        Largest accepted difference of probabilities.

    Returns
    -------
    OnnxExport

    Raises
    ------
    ValueError
        A path without ``.onnx``, another Keras backend than TensorFlow, a missing ``onnx``
        extra, or an exported graph that does not reproduce the model.
    """
    import keras
    import numpy as np

    from segkit.files import atomic_path, atomic_write_text, check_output_file

    started = time.perf_counter()
    target = Path(path)
    if target.suffix.lower() != ".onnx":
        raise ValueError(f"{target}: the ONNX file's name must end in .onnx")
    check_output_file(target)
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"ONNX export runs on the TensorFlow backend; this process uses "
            f"{keras.backend.backend()!r} (run it with KERAS_BACKEND=tensorflow: a .keras file "
            "loads on any backend)"
        )
    _require("tf2onnx")
    onnx = _require("onnx")
    net, info = resolve_model(model)
    net = _float32(net)
    multiple = downsampling_factor(net)
    h, w = _check_size(info, net, multiple)
    channels = int(net.input_shape[-1])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(1, h, w, channels)).astype("float32")
    expected = np.asarray(net.predict(image, verbose=0), dtype="float32")  # also builds the model
    interface = _interface(net, info, multiple)
    metadata = {INFO_KEY: info.to_json(), INTERFACE_KEY: json.dumps(interface)}
    difference: float | None = None
    with atomic_path(target) as tmp:
        with warnings.catch_warnings():  # Keras's numpy patch for tf2onnx warns about np.object
            warnings.simplefilter("ignore", FutureWarning)
            net.export(str(tmp), format="onnx", opset_version=opset, verbose=False)
        _rename_output(onnx, tmp, metadata)
        if verify:
            difference = _compare(tmp, image, expected, target)
            if difference is not None and difference > tolerance:
                raise ValueError(
                    f"{target}: the exported graph differs from the model by {difference:.2g} "
                    f"(more than {tolerance:g}); nothing was written"
                )
    info_path = atomic_write_text(target.with_suffix(".json"), info.to_json())
    return OnnxExport(
        path=target,
        info_path=info_path,
        interface=interface,
        check_shape=(1, h, w, channels),
        max_abs_difference=difference,
        seconds=time.perf_counter() - started,
    )


def _compare(path: Path, image: Any, expected: Any, target: Path) -> float | None:
    import numpy as np

    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: image})
    if got.shape != expected.shape:
        raise ValueError(
            f"{target}: the exported graph returns shape {got.shape}, the model {expected.shape}"
        )
    return float(np.max(np.abs(got.astype("float32") - expected)))


def read_onnx_info(path: str | Path) -> tuple[ModelInfo, dict[str, Any]]:
    """The :class:`ModelInfo` and the interface stored in a file written by :func:`export_onnx`.

    Raises
    ------
    ValueError
        A file that is not ONNX, or one without segkit's metadata.
    """
    onnx = _require("onnx")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "no such file", str(p))
    try:
        graph_model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for a file that is not ONNX
        raise ValueError(f"{p}: not an ONNX file ({type(exc).__name__})") from None
    props = {entry.key: entry.value for entry in graph_model.metadata_props}
    if INFO_KEY not in props or INTERFACE_KEY not in props:
        raise ValueError(f"{p}: no segkit metadata (not written by segkit export)")
    return ModelInfo.from_json(props[INFO_KEY]), json.loads(props[INTERFACE_KEY])
