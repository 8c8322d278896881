"""The training configuration: every hyper-parameter as one plain, frozen value.

A :class:`TrainConfig` is written next to the model as ``config.json``; reading it back gives an
equal object. To change a setting, pass another value (``config.replace(epochs=50)``), never a
subclass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from segkit.files import atomic_write_text, read_json
from segkit.validation import FieldChecker

__all__ = [
    "TrainConfig", "ConfigError", "OPTIMIZERS", "LOSSES", "MIXED_PRECISION", "STAIN_NORMALISATION",
]  # fmt: skip

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LOSSES = ("auto", "bce", "dice", "bce_dice", "focal", "ce_dice")
MIXED_PRECISION = ("auto", "on", "off", "bf16")
MONITORS = ("val_loss", "val_dice", "loss", "dice")
UPSAMPLING = ("transpose", "bilinear")
STAIN_NORMALISATION = ("none", "macenko", "reinhard")


class ConfigError(ValueError):
    """An invalid training setting; the message names the field, the value and what is allowed."""


_check = FieldChecker("train config field", ConfigError)
_bad = _check.bad
# (field, minimum, maximum) of the integer fields; patch_size and steps_per_epoch may be None.
_INTS: tuple[tuple[str, int, int | None], ...] = (
    ("epochs", 1, None),
    ("batch_size", 1, None),
    ("depth", 1, 8),
    ("base_filters", 1, None),
    ("patches_per_image", 1, None),
    ("patience", 0, None),
    ("seed", 0, None),
    ("sample_figures", 0, 32),
)
# (field, minimum, maximum, minimum excluded) of the number fields.
_FLOATS: tuple[tuple[str, float, float, bool], ...] = (
    ("learning_rate", 0.0, 10.0, True),
    ("weight_decay", 0.0, 1.0, False),
    ("dropout", 0.0, 0.9, False),
    ("brightness", 0.0, 1.0, False),
    ("contrast", 0.0, 1.0, False),
    ("stain_jitter", 0.0, 1.0, False),
    ("hematoxylin_fade", 0.0, 0.9, False),
    ("hue", 0.0, 0.5, False),
    ("saturation", 0.0, 1.0, False),
    ("blur", 0.0, 2.0, False),
    ("noise", 0.0, 0.5, False),
    ("zoom", 0.0, 1.0, False),
    ("min_delta", 0.0, 1e6, False),
    ("threshold", 0.0, 1.0, True),
    ("ema", 0.0, 0.9999, False),
)
_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("optimizer", OPTIMIZERS),
    ("loss", LOSSES),
    ("upsampling", UPSAMPLING),
    ("monitor", MONITORS),
    ("mixed_precision", MIXED_PRECISION),
    ("stain_normalisation", STAIN_NORMALISATION),
)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run.

    Parameters
    ----------
    epochs : int
        Number of passes over the training part.
    batch_size : int
        Global batch size (split over all replicas when several devices train).
    learning_rate : float
    optimizer : {'adam', 'adamw', 'sgd', 'rmsprop'}
    weight_decay : float
        Used by ``adamw`` (and as L2-style decay by the others when > 0).
    loss : {'auto', 'bce', 'dice', 'bce_dice', 'focal', 'ce_dice'}
        ``auto``: ``bce_dice`` for two classes, ``ce_dice`` for more.
    patch_size : int, optional
        Side of the square random patches cut from each training image; ``None`` trains on
        whole images. Must divide by ``2 ** depth``.
    patches_per_image : int
        Patches drawn from each training image per epoch.
    depth, base_filters, batch_norm, dropout, upsampling
        U-Net architecture (see :func:`segkit.models.build_unet`).
    augment : bool
        Paired augmentation of training pairs; the fields below up to ``zoom`` tune it.
    flip, rotate90 : bool
        Random horizontal/vertical flips and 90-degree rotations (image and mask together).
    brightness, contrast : float
        Largest relative intensity change applied to the image only (0 disables).
    stain_jitter : float
        Stain augmentation: each of hematoxylin, eosin and DAB scaled by up to this fraction
        and shifted in optical density (:func:`segkit.training.augment.stain_jitter`; RGB
        images; 0 disables, 0.05 light, 0.3 strong). For brightfield histology 0.3 is the
        measured choice: on MoNuSeg organs left out of training it raised Dice from 0.735
        (0.1) to 0.769 (README, ``benchmarks/quality_monuseg.py``).
    hematoxylin_fade : float
        Pale nuclei: the hematoxylin amount is also scaled by a factor drawn in
        ``[1 - hematoxylin_fade, 1]`` (0..0.9; RGB images; 0 disables), on top of
        ``stain_jitter``'s symmetric range. On MoNuSeg's unseen organs 0.5 lowered Dice
        (0.785 to 0.759 on two folds, README), so keep it for stains whose nuclei are paler
        than the training data's, and measure.
    hue, saturation : float
        Largest hue turn (fraction of the colour circle: 0.05 is 18 degrees) and largest
        relative saturation change, in HSV (RGB images; 0 disables).
    blur : float
        Largest Gaussian blur sigma in pixels (0..2; sigma drawn in ``[0, blur]``): slides
        scanned slightly out of focus.
    noise : float
        Largest standard deviation of additive Gaussian noise as a fraction of 255 (drawn in
        ``[0, noise]`` per patch): camera and compression noise.
    zoom : float
        Scale augmentation of the random patches: the tissue magnified by a factor drawn
        log-uniform in ``[1 / (1 + zoom), 1 + zoom]`` (0.25: 0.8x to 1.25x; 0 disables), the
        window resized to ``patch_size`` (image bilinear, mask nearest-neighbour). Acts where
        patches are cut (``patch_size`` smaller than the images); for nuclei of other sizes
        than the training organs' at the same microns per pixel.
    stain_normalisation : {'none', 'macenko', 'reinhard'}
        Normalise every image's stain to a target fitted on the training images
        (:mod:`segkit.stain_normalisation`; RGB data sets only), in both input pipelines
        before augmentation; the fitted target is saved with the model and every predictor
        applies it.
    patience : int
        Early stopping: epochs without improvement of ``monitor`` before stopping; 0 disables.
    min_delta : float
        Smallest change of ``monitor`` that counts as an improvement.
    monitor : {'val_loss', 'val_dice', 'loss', 'dice'}
        What "best" means for the best checkpoint and early stopping.
    seed : int
        Seeds weights, shuffling and augmentation.
    mixed_precision : {'auto', 'on', 'off', 'bf16'}
        ``on``: Keras's ``mixed_float16`` (float16 compute, float32 weights, loss scaling);
        ``auto``: ``on`` when a GPU is present; ``bf16``: ``mixed_bfloat16`` (bfloat16
        compute, float32 weights, no loss scaling; for GPUs from Ampere on, TPUs, and CPUs
        with AVX-512 BF16 or AMX, which float16 does not speed up).
    threshold : float
        Probability threshold for binary masks, stored with the model.
    cache : bool
        Keep decoded pairs in memory after the first epoch.
    steps_per_epoch : int, optional
        Limit the batches per epoch (``None``: one pass over the data).
    sample_figures : int
        Validation/test images drawn in ``figures/predictions.png``; 0 disables.
    mlflow_tracking_uri : str, optional
        Also log the run to MLflow there (default: ``MLFLOW_TRACKING_URI`` when set).
    mlflow_experiment : str
    init_model : str, optional
        Start from the weights of this model instead of random ones (fine-tuning): a run or
        model folder, a ``.keras`` file, or a bundled model such as ``segkit:nuclei``. Its
        U-Net must match this config and data set (depth, filters, channels, classes).
        Read once, when the run starts; a resumed run continues from its own checkpoint.
    ema : float
        Weight averaging: 0 (off) or the momentum ``m`` of an exponential moving average of
        the weights, updated after every step (0.99 averages about the last 100 steps). The
        average is what is validated, kept as the best checkpoint and saved as the model;
        training goes on from the raw weights (:mod:`segkit.training.averaging`). Off by
        default: on MoNuSeg's unseen organs 0.99 did not help (README).
    """

    epochs: int = 20
    batch_size: int = 8
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    loss: str = "auto"
    patch_size: int | None = None
    patches_per_image: int = 1
    depth: int = 4
    base_filters: int = 32
    batch_norm: bool = True
    dropout: float = 0.0
    upsampling: str = "transpose"
    augment: bool = True
    flip: bool = True
    rotate90: bool = True
    brightness: float = 0.1
    contrast: float = 0.1
    stain_jitter: float = 0.0
    hematoxylin_fade: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    zoom: float = 0.0
    stain_normalisation: str = "none"
    patience: int = 10
    min_delta: float = 0.0
    monitor: str = "val_loss"
    seed: int = 0
    mixed_precision: str = "auto"
    threshold: float = 0.5
    cache: bool = True
    steps_per_epoch: int | None = None
    sample_figures: int = 4
    mlflow_tracking_uri: str | None = None
    mlflow_experiment: str = "segkit"
    init_model: str | None = None
    ema: float = 0.0

    def __post_init__(self) -> None:
        for name, lo, hi in _INTS:
            _check.check_int(name, getattr(self, name), minimum=lo, maximum=hi)
        for name, lo, hi in (("patch_size", 8, None), ("steps_per_epoch", 1, None)):
            if getattr(self, name) is not None:
                _check.check_int(name, getattr(self, name), minimum=lo, maximum=hi)
        step = 2**self.depth
        if self.patch_size is not None and self.patch_size % step:
            raise _bad(
                "patch_size",
                self.patch_size,
                f"a multiple of {step} (2 ** depth with depth {self.depth})",
            )
        for name, low, high, above in _FLOATS:
            v = _check.check_float(
                name, getattr(self, name), minimum=low, maximum=high, exclusive_minimum=above
            )
            object.__setattr__(self, name, v)
        for name, choices in _CHOICES:
            _check.check_choice(name, getattr(self, name), choices)
        for name in ("batch_norm", "augment", "flip", "rotate90", "cache"):
            _check.check_bool(name, getattr(self, name))
        uri = self.mlflow_tracking_uri
        if uri is not None and (not isinstance(uri, str) or not uri):
            raise _bad("mlflow_tracking_uri", uri, "a tracking URI such as sqlite:///mlflow.db")
        if not isinstance(self.mlflow_experiment, str) or not self.mlflow_experiment:
            raise _bad("mlflow_experiment", self.mlflow_experiment, "a non-empty name")
        init = self.init_model
        if init is not None and (not isinstance(init, str) or not init):
            raise _bad("init_model", init, "a model folder, a .keras file or segkit:NAME")

    def resolved_loss(self, num_classes: int) -> str:
        """The loss name to use for ``num_classes`` (resolves ``auto``)."""
        if self.loss != "auto":
            return self.loss
        return "bce_dice" if num_classes == 2 else "ce_dice"

    def check_patch_fits(self, size: tuple[int, int]) -> None:
        """Refuse a ``patch_size`` larger than images of ``size`` ``(height, width)``."""
        if self.patch_size is not None and self.patch_size > min(size):
            raise ConfigError(
                f"train config field 'patch_size': {self.patch_size} is larger than the images "
                f"({size[0]}x{size[1]}); use a patch size of at most {min(size)}"
            )

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, *, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys are an error that names them."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a train config is a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            allowed = f"not a field; known: {', '.join(sorted(known))}"
            raise _bad(unknown[0], data[unknown[0]], allowed)
        return cls(**dict(data))

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a ``config.json``; errors name the file."""
        p = Path(path)
        try:
            data = read_json(p)
        except FileNotFoundError:
            raise FileNotFoundError(f"{p}: no such train config file") from None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{p}: {exc}") from None

    def save(self, path: str | Path) -> Path:
        """Write as JSON atomically."""
        return atomic_write_text(path, self.to_json())
