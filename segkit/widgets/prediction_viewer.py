"""Run a model on an uploaded or chosen image and show the prediction overlaid."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from segkit.widgets.logic.dataset_browser import render_overlay
from segkit.widgets.logic.prediction_viewer import decode_upload, predict_mask, resolve_model

__all__ = ["PredictionViewer"]


class PredictionViewer:
    """Upload an image (or give its path), press "Predict", see the mask overlaid.

    Parameters
    ----------
    model : path, Run, (keras.Model, ModelInfo) or keras.Model
        A run or model folder, a ``.keras`` file, a run, or a model already loaded.
    image : path, optional
        Predict this image at once.

    Attributes
    ----------
    image, prediction : ndarray or None
        The last image and its predicted class-index mask.
    """

    def __init__(self, model: Any, *, image: str | Path | None = None) -> None:
        self.model, self.info = resolve_model(model)
        self.upload = w.FileUpload(
            accept=".png,.jpg,.jpeg,.bmp,.tif,.tiff", multiple=False, description="Upload image"
        )
        self.path = w.Text(
            value=str(image or ""), description="or path", layout=w.Layout(width="420px")
        )
        self.button = w.Button(description="Predict", button_style="primary", icon="play")
        self.alpha = w.FloatSlider(value=0.4, min=0.0, max=1.0, step=0.05, description="Opacity")
        self.contours = w.Checkbox(value=False, description="Outlines only")
        self.tta = w.Checkbox(value=False, description="Flip TTA")
        self.status = w.HTML(value="")
        self.view = w.Image(format="png", layout=w.Layout(max_width="640px"))
        self.image: np.ndarray | None = None
        self.prediction: np.ndarray | None = None
        self.button.on_click(lambda _b: self.run())
        self.upload.observe(lambda _c: self.run(), names="value")
        self.alpha.observe(lambda _c: self._draw(), names="value")
        self.contours.observe(lambda _c: self._draw(), names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.upload, self.path, self.button]),
                w.HBox([self.alpha, self.contours, self.tta]),
                self.status,
                self.view,
            ]
        )
        if image:
            self.run()

    def run(self) -> np.ndarray | None:
        """Predict the uploaded file (or else the path); errors are shown in the status line."""
        from segkit.imaging import read_image, to_uint8

        try:
            if self.upload.value:
                name, image = decode_upload(self.upload.value)
            elif self.path.value.strip():
                name = self.path.value.strip()
                image = to_uint8(read_image(name))
            else:
                raise ValueError("upload an image or give its path")
            start = time.perf_counter()
            prediction = predict_mask(self.model, self.info, image, tta=self.tta.value)
        except (OSError, ValueError) as exc:
            self.status.value = f'<span style="color:#c62828">{html.escape(str(exc))}</span>'
            return None
        seconds = time.perf_counter() - start
        self.image, self.prediction = image, prediction
        share = float(np.mean(prediction > 0))
        self.status.value = (
            f"<b>{html.escape(Path(name).name)}</b> - {image.shape[1]}x{image.shape[0]} - "
            f"foreground {share:.1%} - {seconds:.2f} s"
        )
        self._draw()
        return prediction

    def _draw(self) -> None:
        if self.image is not None:
            self.view.value = render_overlay(
                self.image,
                prediction=self.prediction,
                alpha=self.alpha.value,
                contours=self.contours.value,
            )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
