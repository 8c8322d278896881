"""Tiny deterministic Keras models and slides for the slide tests (no training)."""

from __future__ import annotations

import time

import keras
import numpy as np

from segkit.models.saving import ModelInfo
from segkit.slides import ArraySlide


def darkness_model(*, num_classes: int = 2, delay: float = 0.0) -> keras.Model:
    """A fixed 5x5 averaging of darkness: tile borders differ, so the blending matters.

    ``num_classes == 2``: one sigmoid channel; otherwise a softmax over ``num_classes``.
    ``delay`` seconds of sleep in every ``predict_on_batch`` (a slow model to interrupt).
    """
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    channels = 1 if num_classes == 2 else num_classes
    # logit = a * darkness + b, darkness = 1 - mean: white 0, pink tissue 0.3, nuclei 0.74
    if channels == 1:
        a, b = np.array([12.0]), np.array([-6.0])  # nuclei are foreground
    else:  # glass 0, tissue 1, nuclei 2 (and more classes never win)
        a = np.array([0.0, 20.0, 40.0] + [0.0] * (channels - 3))
        b = np.array([0.0, -3.0, -14.0] + [-50.0] * (channels - 3))
    kernel = np.broadcast_to(-a / 75.0, (5, 5, 3, channels)).astype(np.float32)
    bias = (a + b).astype(np.float32)
    conv = keras.layers.Conv2D(channels, 5, padding="same")
    x = conv(x)
    conv.set_weights([kernel, bias])
    act = "sigmoid" if channels == 1 else "softmax"
    outputs = keras.layers.Activation(act, dtype="float32")(x)
    cls = SlowModel if delay else keras.Model
    model = cls(inputs, outputs)
    if delay:
        model.delay = delay
    return model


class SlowModel(keras.Model):
    delay = 0.0

    def predict_on_batch(self, x):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        return super().predict_on_batch(x)


def model_info(*, num_classes: int = 2, mpp: float | None = 0.5) -> ModelInfo:
    return ModelInfo(input_shape=(None, None, 3), num_classes=num_classes, mpp=mpp)


def tissue_image(shape: tuple[int, int], *, seed: int = 0, glass: bool = False) -> np.ndarray:
    """RGB uint8: dark blobs on pink tissue; with ``glass`` the tissue fills only the middle."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.empty((h, w, 3), dtype=np.uint8)
    image[...] = (200, 150, 190)
    for _ in range(max(4, h * w // 4000)):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(4, 14)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = (70, 40, 110)
    noise = rng.integers(-12, 13, size=image.shape)
    image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    if glass:
        keep = np.zeros((h, w), dtype=bool)
        keep[h // 3 : 2 * h // 3, w // 4 : w // 2] = True
        image[~keep] = 255
    return image


def array_slide(image: np.ndarray, *, mpp: float | None = 0.5, name: str = "s.svs") -> ArraySlide:
    return ArraySlide(image, mpp=None if mpp is None else (mpp, mpp), levels=3, name=name)
