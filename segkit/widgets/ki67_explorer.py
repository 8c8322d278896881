"""Explore Ki-67 scores in a notebook: outlines by class, the index, and a DAB threshold slider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import numpy as np

from segkit.widgets.logic.ki67_explorer import dab_values, reclassify, summary_text
from segkit.widgets.logic.training_monitor import figure_png

__all__ = ["Ki67Explorer"]


class Ki67Explorer:
    """Scored images, their class outlines and the DAB OD histogram with a movable threshold.

    Moving the slider re-classifies every nucleus from its stored measurements (no model
    runs again): the counts, index and outlines follow at once.

    Parameters
    ----------
    images : mapping of str to (M, N, 3) ndarray
        The RGB images, by name.
    scores : mapping of str to ImageScore
        :func:`segkit.ki67.score_ki67_image` of each image.
    threshold : float
        The starting DAB OD threshold (QuPath's 0.2).
    display : bool
        Show the widget now (False: build it only, e.g. in tests).
    """

    def __init__(
        self,
        images: Mapping[str, np.ndarray],
        scores: Mapping[str, Any],
        *,
        threshold: float = 0.2,
        display: bool = True,
    ) -> None:
        if not scores:
            raise ValueError("Ki67Explorer: no scored images")
        self.images = dict(images)
        self.base = dict(scores)
        self.scores = dict(scores)
        self.slider = w.FloatSlider(
            value=threshold, min=0.0, max=1.0, step=0.01, description="DAB OD", readout_format=".2f"
        )
        self.choice = w.Dropdown(options=list(scores), description="image")
        self.text = w.HTML()
        self.histogram = w.Image(format="png", layout=w.Layout(max_width="520px"))
        self.picture = w.Image(format="png", layout=w.Layout(max_width="720px"))
        self.widget = w.VBox(
            [w.HBox([self.choice, self.slider]), self.text, self.histogram, self.picture]
        )
        self.slider.observe(lambda _: self.update(), names="value")
        self.choice.observe(lambda _: self.update(), names="value")
        self.update()
        if display:
            from IPython.display import display as show

            show(self.widget)

    def update(self) -> None:
        """Re-classify at the slider's threshold and redraw."""
        t = float(self.slider.value)
        self.scores = {name: reclassify(s, t) for name, s in self.base.items()}
        lines = [summary_text(name, s) for name, s in self.scores.items()]
        self.text.value = "<br>".join(lines)
        self.histogram.value = figure_png(self._histogram(t))
        self.picture.value = self._picture(self.choice.value)

    def _histogram(self, threshold: float) -> Any:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.2, 2.6))
        ax = fig.subplots()
        values = dab_values(self.base)
        ax.hist(values, bins=50, color="#8c6d46")
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
        ax.set_xlabel("nucleus mean DAB optical density")
        ax.set_ylabel("nuclei")
        ax.legend(loc="upper right")
        fig.tight_layout()
        return fig

    def _picture(self, name: str) -> bytes:
        from segkit.imaging import encode_image
        from segkit.ki67.outputs import draw_class_outlines

        return encode_image(draw_class_outlines(self.images[name], self.scores[name]), ".png")
