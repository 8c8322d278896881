"""A Keras callback that draws loss and Dice live in the notebook while ``fit`` runs."""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import keras

from segkit.viz import plot_history
from segkit.widgets.logic.training_monitor import (
    figure_png,
    progress_text,
    select_curves,
    update_history,
)

__all__ = ["TrainingMonitor"]


class TrainingMonitor(keras.callbacks.Callback):
    """Live training curves in a notebook.

    Pass it to ``segkit.training.train(..., callbacks=[monitor])`` or ``model.fit``. After
    every epoch it redraws the curves named in ``curves`` (training and validation); every
    ``every_batches`` batches it updates a one-line progress text.

    Parameters
    ----------
    curves : tuple of str
        Logged quantities to draw, without the ``val_`` prefix.
    every_batches : int
        Update the progress text every this many batches (0: only per epoch).
    display : bool
        Show the widget when training begins (False: build it only, e.g. in tests).

    Attributes
    ----------
    history : dict
        Every logged quantity, one value per finished epoch.
    widget : ipywidgets.VBox
        Progress text above the figure.
    """

    def __init__(
        self,
        curves: tuple[str, ...] = ("loss", "dice"),
        *,
        every_batches: int = 10,
        display: bool = True,
    ) -> None:
        super().__init__()
        self.curves = tuple(curves)
        self.every_batches = int(every_batches)
        self.history: dict[str, list[float]] = {}
        self.label = w.HTML(value="waiting for training to start")
        self.image = w.Image(format="png", layout=w.Layout(max_width="720px"))
        self.widget = w.VBox([self.label, self.image])
        self._display = display
        self._shown = False
        self._epoch = 0
        self._epochs: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._epochs = (self.params or {}).get("epochs")
        self.label.value = "training started"
        if self._display and not self._shown:
            from IPython.display import display

            display(self.widget)
            self._shown = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.every_batches and (batch + 1) % self.every_batches == 0:
            self.label.value = (
                progress_text(self._epoch, self._epochs, logs) + f" (batch {batch + 1})"
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        update_history(self.history, logs)
        self.label.value = progress_text(epoch + 1, self._epochs, logs)
        self.redraw()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.label.value = self.label.value + " - done"

    def redraw(self) -> None:
        """Draw the selected curves of :attr:`history` into the image."""
        curves = select_curves(self.history, self.curves)
        if curves:
            self.image.value = figure_png(plot_history(curves))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
