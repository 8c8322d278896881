"""Saving and loading a model together with what it needs to be used on a raw image.

A saved model is a folder with two files:

- ``model.keras``: the Keras model, saved without its training configuration (no optimizer,
  loss or metrics), so it loads with plain ``keras.models.load_model(path)`` in a process
  that has never imported segkit. Its first layer rescales 0..255 to 0..1.
- ``model.json``: a :class:`ModelInfo`: input shape, classes, colour model, the scale the
  template applied to the source images, the threshold, the template, the data set
  fingerprint and the stain normalisation (written only when there is one).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from segkit.stain_normalisation import StainNormalisation
from segkit.validation import FieldChecker, is_int, is_number

__all__ = ["MODEL_FILE", "INFO_FILE", "ModelInfo", "save_model", "load_model"]

MODEL_FILE = "model.keras"
INFO_FILE = "model.json"
INFO_FORMAT_VERSION = 1
_COLOR_MODELS = ("rgb", "grayscale", "binary")


def _segkit_version() -> str:
    from segkit import __version__

    return __version__


_check = FieldChecker("model info field", lead="expected ")
_bad = _check.bad


@dataclass(frozen=True)
class ModelInfo:
    """What a model needs to be applied to a raw image, saved as ``model.json``.

    Parameters
    ----------
    input_shape : (height, width, channels)
        The training input size (height/width may be ``None``); tiled prediction uses
        height x width as the default tile size.
    num_classes : int
        Classes including the background.
    class_names : tuple of str
        One name per class; default ``background``, ``class1``, ...
    color_model : {'rgb', 'grayscale', 'binary'}
        Colour model of the training images; raw images are converted to it.
    scale : (float, float)
        ``(rows, cols)`` factor the template applied to source images; raw images are resized
        by it before prediction and the mask is brought back to the raw size.
    threshold : float
        Foreground probability threshold (binary models).
    template : dict, optional
        The data set template (``DatasetTemplate.to_dict()``).
    fingerprint : str
        Fingerprint of the prepared data set the model was trained on.
    segkit_version : str
    target : {'semantic', 'instances'}
        ``instances``: the model separates objects; its last class is ``boundary`` and the
        classes between background and boundary are interiors
        (:func:`segkit.instances.instance_class_names`).
    mpp : float, optional
        Microns per pixel of the images the model saw in training (after ``scale``); with an
        image's own microns per pixel, :meth:`at_mpp` gives the scale that matches them.
    stain_normalisation : StainNormalisation
        What every predictor does to an RGB image's stain before the model sees it
        (:func:`segkit.stain_normalisation.normalise`); method ``"none"`` (the default, and
        any ``model.json`` without the field) leaves images unchanged.
    """

    input_shape: tuple[int | None, int | None, int]
    num_classes: int = 2
    class_names: tuple[str, ...] = ()
    color_model: str = "rgb"
    scale: tuple[float, float] = (1.0, 1.0)
    threshold: float = 0.5
    template: Mapping[str, Any] | None = None
    fingerprint: str = ""
    segkit_version: str = field(default_factory=_segkit_version)
    target: str = "semantic"
    mpp: float | None = None
    stain_normalisation: StainNormalisation = field(default_factory=StainNormalisation)

    def __post_init__(self) -> None:
        shape = self.input_shape
        if not isinstance(shape, list | tuple) or len(shape) != 3:
            raise _bad("input_shape", shape, "(height, width, channels)")
        for i, v in enumerate(shape):
            if not (is_int(v) and v > 0) and not (v is None and i < 2):
                raise _bad("input_shape", shape, "positive integers (height/width may be null)")
        object.__setattr__(self, "input_shape", tuple(shape))
        k = _check.check_int(
            "num_classes",
            self.num_classes,
            minimum=2,
            expected="an integer >= 2 (the background counts)",
        )
        names = tuple(self.class_names) or ("background",) + tuple(f"class{i}" for i in range(1, k))
        if len(names) != k or not all(isinstance(n, str) and n for n in names):
            raise _bad("class_names", list(names), f"{k} non-empty names")
        object.__setattr__(self, "class_names", names)
        _check.check_choice(
            "color_model", self.color_model, _COLOR_MODELS, expected=" or ".join(_COLOR_MODELS)
        )
        scale = self.scale
        if (
            not isinstance(scale, list | tuple)
            or len(scale) != 2
            or not all(is_number(s) for s in scale)
            or not all(0 < s <= 1000 for s in scale)
        ):
            raise _bad("scale", scale, "(rows, cols) factors > 0")
        object.__setattr__(self, "scale", (float(scale[0]), float(scale[1])))
        probability = "a probability between 0 and 1"
        threshold = _check.check_float(
            "threshold", self.threshold, minimum=0.0, maximum=1.0, expected=probability
        )
        object.__setattr__(self, "threshold", threshold)
        _check.check_choice(
            "target", self.target, ("semantic", "instances"), expected="semantic or instances"
        )
        if self.target == "instances" and (k < 3 or names[-1] != "boundary"):
            raise _bad("class_names", list(names), "an instance model's classes end in 'boundary'")
        if self.mpp is not None:
            mpp = _check.check_float(
                "mpp", self.mpp, minimum=0.0, maximum=1000.0, expected="microns per pixel > 0"
            )
            if mpp <= 0:
                raise _bad("mpp", self.mpp, "microns per pixel > 0")
            object.__setattr__(self, "mpp", mpp)
        stain = self.stain_normalisation
        if not isinstance(stain, StainNormalisation):
            try:
                stain = StainNormalisation.from_dict(stain)
            except (TypeError, ValueError) as exc:
                raise _bad("stain_normalisation", stain, f"a stain normalisation ({exc})") from None
            object.__setattr__(self, "stain_normalisation", stain)
        if not stain.is_none and self.color_model != "rgb":
            raise _bad("stain_normalisation", stain.method, "'none' for a non-RGB colour model")
        if self.template is not None and not isinstance(self.template, Mapping):
            raise _bad("template", self.template, "a template object or null")
        if self.input_shape[2] != (3 if self.color_model == "rgb" else 1):
            raise _bad(
                "input_shape",
                list(self.input_shape),
                f"{3 if self.color_model == 'rgb' else 1} channel(s) for color_model "
                f"{self.color_model!r}",
            )

    @property
    def channels(self) -> int:
        return int(self.input_shape[2])

    @property
    def mask_classes(self) -> int:
        """Classes of the masks it predicts: the data set's (an instance model's boundary is
        not one)."""
        return self.num_classes - (1 if self.target == "instances" else 0)

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    def at_mpp(self, image_mpp: float | None) -> ModelInfo:
        """This info with the scale that brings an image of ``image_mpp`` to the model's mpp.

        Unchanged when either microns per pixel is unknown.
        """
        if image_mpp is None or self.mpp is None:
            return self
        if not image_mpp > 0:
            raise ValueError(f"microns per pixel must be > 0, got {image_mpp}")
        factor = float(image_mpp) / float(self.mpp)
        return self.replace(scale=(factor, factor))

    def replace(self, **changes: Any) -> ModelInfo:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format_version": INFO_FORMAT_VERSION,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "color_model": self.color_model,
            "scale": list(self.scale),
            "threshold": self.threshold,
            "template": None if self.template is None else dict(self.template),
            "fingerprint": self.fingerprint,
            "segkit_version": self.segkit_version,
            "target": self.target,
            "mpp": self.mpp,
        }
        if not self.stain_normalisation.is_none:  # absent when none: older segkit reads it
            out["stain_normalisation"] = self.stain_normalisation.to_dict()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        data = dict(data)
        version = data.pop("format_version", INFO_FORMAT_VERSION)
        if version != INFO_FORMAT_VERSION:
            raise _bad("format_version", version, f"{INFO_FORMAT_VERSION}")
        known = {
            "input_shape", "num_classes", "class_names", "color_model", "scale", "threshold",
            "template", "fingerprint", "segkit_version", "target", "mpp", "stain_normalisation",
        }  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise _bad(unknown[0], data[unknown[0]], f"one of the fields {sorted(known)}")
        if "input_shape" not in data:
            raise _bad("input_shape", None, "(height, width, channels)")
        for key in ("input_shape", "class_names", "scale"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_template(
        cls,
        template: Any,
        *,
        input_shape: tuple[int | None, int | None, int] | None = None,
        scale: tuple[float, float] = (1.0, 1.0),
        fingerprint: str = "",
        threshold: float = 0.5,
    ) -> ModelInfo:
        """Info for a model trained on data prepared with ``template`` (a ``DatasetTemplate``).

        ``mpp`` is the template's microns per pixel (None when it has none)."""
        shape = input_shape or (template.height, template.width, template.channels)
        from segkit.template.spec import output_class_names

        names = output_class_names(template)
        target = getattr(template, "target", "semantic")
        return cls(
            input_shape=tuple(shape),
            num_classes=len(names),
            class_names=names,
            target=target,
            color_model=template.color_model,
            scale=scale,
            threshold=threshold,
            template=template.to_dict(),
            fingerprint=fingerprint,
            mpp=getattr(template, "mpp", None),
        )

    @classmethod
    def from_manifest(
        cls,
        manifest: Any,
        *,
        input_shape: tuple[int | None, int | None, int] | None = None,
        threshold: float = 0.5,
    ) -> ModelInfo:
        """Info for a model trained on a prepared data set (a ``segkit.dataset.Manifest``).

        The scale is the median of the training pairs' scales (they are all equal when the
        source images share one size); fit mode ``tile`` keeps (1, 1): with a template mpp the
        sources were rescaled to it, and :meth:`at_mpp` gives a new image's scale from its own.
        """
        import numpy as np

        pairs = manifest.split("train") or manifest.pairs
        scale = (1.0, 1.0)
        if pairs and manifest.template.fit != "tile":
            arr = np.asarray([p.scale for p in pairs], dtype=np.float64)
            scale = (float(np.median(arr[:, 0])), float(np.median(arr[:, 1])))
        return cls.from_template(
            manifest.template,
            input_shape=input_shape,
            scale=scale,
            fingerprint=manifest.fingerprint,
            threshold=threshold,
        )

    @classmethod
    def from_model(cls, model: Any) -> ModelInfo:
        """Info inferred from a model alone (no scale, colour model from its channels)."""
        shape = tuple(model.input_shape[1:])
        channels = int(model.output_shape[-1])
        return cls(
            input_shape=shape,
            num_classes=2 if channels == 1 else channels,
            color_model="rgb" if shape[2] == 3 else "grayscale",
        )


def _inference_copy(model: Any) -> Any:
    """The same layers and weights without the compile state (loss, metrics, optimizer)."""
    import keras

    if not getattr(model, "compiled", False):
        return model
    try:
        # one input stays one tensor, not a list of one: Keras on PyTorch warns on every call
        # when a model built on a list is called with a tensor
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
        return keras.Model(inputs, outputs, name=model.name)
    except (AttributeError, ValueError, TypeError):  # not a functional model
        return model


def save_model(model: Any, directory: str | Path, info: ModelInfo) -> Path:
    """Write ``DIR/model.keras`` and ``DIR/model.json``, each atomically.

    Parameters
    ----------
    model : keras.Model
        Saved without its compile state, so that it loads anywhere with plain Keras.
    directory : path
        Created when missing; existing files of the same names are replaced.
    info : ModelInfo

    Returns
    -------
    Path
        The ``model.keras`` file.
    """
    from segkit.files import atomic_write_text

    if not isinstance(info, ModelInfo):
        raise TypeError(f"save_model: info must be a ModelInfo, got {type(info).__name__}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    target = out / MODEL_FILE
    tmp_dir = Path(tempfile.mkdtemp(prefix=".model.", suffix=".part", dir=out))
    try:
        tmp = tmp_dir / MODEL_FILE  # Keras insists on the .keras suffix
        _inference_copy(model).save(tmp)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    atomic_write_text(out / INFO_FILE, info.to_json())
    return target


def load_model(path: str | Path, *, compile: bool = False) -> tuple[Any, ModelInfo]:
    """Load a model saved by :func:`save_model`.

    Parameters
    ----------
    path : path
        The folder (a run folder works), or its ``model.keras`` (any ``.keras`` file; without
        a ``model.json`` beside it the info is inferred from the model). To accept a loaded
        model or a run as well, use :func:`segkit.models.resolve_model`.
    compile : bool
        Restore the compile state too, when the file has one (segkit's losses and metrics
        are registered on import of this module's callers).

    Returns
    -------
    (keras.Model, ModelInfo)
    """
    import keras

    import segkit.losses  # noqa: F401 - registers the losses for compiled checkpoints
    import segkit.metrics  # noqa: F401

    p = Path(path)
    model_path = p / MODEL_FILE if p.is_dir() else p
    expected = "expected a run folder, a model folder or a .keras file"
    if not model_path.is_file():
        if p.is_dir():
            where = f"{p} holds no {MODEL_FILE} (a run saves it when training finishes)"
        else:
            where = f"{p} does not exist"
        raise FileNotFoundError(f"{where}; {expected}")
    if model_path.suffix != ".keras":
        raise ValueError(f"{model_path} is not a .keras file; {expected}")
    try:
        model = keras.models.load_model(model_path, compile=compile)
    except (OSError, ValueError, KeyError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"{model_path}: cannot load the model ({reason})") from None
    info_path = model_path.with_name(INFO_FILE)
    if info_path.is_file():
        try:
            info = ModelInfo.from_json(info_path.read_text(encoding="utf-8"))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{info_path}: {exc}") from None
    else:
        info = ModelInfo.from_model(model)
    return model, info
