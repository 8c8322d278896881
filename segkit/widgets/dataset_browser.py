"""Browse a source or prepared data set: its report, and every pair with the mask overlaid."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from segkit.widgets.logic.dataset_browser import (
    DatasetView,
    load_item,
    open_dataset,
    render_overlay,
)

__all__ = ["DatasetBrowser"]


class DatasetBrowser:
    """Pick a data set folder, read its report, page through its pairs.

    A folder with ``manifest.json`` is read as a prepared data set; any other folder is
    inspected as a source data set (:func:`segkit.dataset.inspect_dataset`).

    Parameters
    ----------
    path : path, optional
        Open this folder at once.
    alpha : float
        Initial opacity of the mask.

    Attributes
    ----------
    view : DatasetView or None
        The open data set.
    """

    def __init__(self, path: str | Path | None = None, *, alpha: float = 0.4) -> None:
        self.path = w.Text(
            value=str(path or ""),
            description="Data set",
            placeholder="a source folder or a prepared data set",
            layout=w.Layout(width="520px"),
        )
        self.open_button = w.Button(description="Open", icon="folder-open")
        self.report = w.HTML(value="")
        self.index = w.IntSlider(
            value=0, min=0, max=0, description="Pair", continuous_update=False, disabled=True
        )
        self.alpha = w.FloatSlider(
            value=alpha, min=0.0, max=1.0, step=0.05, description="Opacity", continuous_update=True
        )
        self.contours = w.Checkbox(value=False, description="Outlines only")
        self.title = w.HTML(value="")
        self.image = w.Image(format="png", layout=w.Layout(max_width="640px"))
        self.view: DatasetView | None = None
        self._pixels: Any = None
        self.open_button.on_click(lambda _b: self.open())
        self.index.observe(lambda _c: self.show(), names="value")
        self.alpha.observe(lambda _c: self._draw(), names="value")
        self.contours.observe(lambda _c: self._draw(), names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.path, self.open_button]),
                self.report,
                w.HBox([self.index, self.alpha, self.contours]),
                self.title,
                self.image,
            ]
        )
        if path:
            self.open()

    def open(self, path: str | Path | None = None) -> DatasetView | None:
        """Open ``path`` (default: the text box); errors are shown in the report area."""
        if path is not None:
            self.path.value = str(path)
        try:
            view = open_dataset(self.path.value.strip())
        except (OSError, ValueError) as exc:
            self.view = None
            self.index.disabled = True
            self.report.value = f'<span style="color:#c62828">{html.escape(str(exc))}</span>'
            return None
        self.view = view
        self.report.value = (
            '<pre style="max-height:220px;overflow:auto;line-height:1.3">'
            f"{html.escape(view.report)}</pre>"
        )
        self.index.max = max(0, len(view.items) - 1)
        self.index.disabled = not view.items
        if self.index.value == 0:
            self.show()
        else:
            self.index.value = 0  # triggers show()
        return view

    def show(self, index: int | None = None) -> None:
        """Show pair ``index`` (default: the slider's)."""
        if index is not None:
            self.index.value = index
            return
        if self.view is None or not self.view.items:
            self.title.value, self.image.value = "no pairs", b""
            return
        item = self.view.items[self.index.value]
        self._pixels = load_item(self.view, self.index.value)
        image = self._pixels[0]
        where = f" [{item.split}]" if item.split else ""
        self.title.value = (
            f"<b>{html.escape(item.name)}</b>{where} - {image.shape[1]}x{image.shape[0]} - "
            f"{self.index.value + 1} of {len(self.view.items)}"
        )
        self._draw()

    def _draw(self) -> None:
        if self._pixels is not None:
            image, mask = self._pixels
            self.image.value = render_overlay(
                image, mask, alpha=self.alpha.value, contours=self.contours.value
            )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
