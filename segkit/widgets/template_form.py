"""The "Dataset Parameters Configuration" form: fill in a template, press "Generate settings".

The widget only wires :func:`segkit.widgets.logic.template_form.generate_settings` to
ipywidgets: it reads the fields, shows each error next to its field, and shows the JSON that
was written.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from segkit.template import DatasetTemplate
from segkit.widgets.logic.template_form import (
    COLOR_MODEL_CHOICES,
    FIT_CHOICES,
    FORM_FIELDS,
    IMAGE_TYPE_CHOICES,
    LAYOUT_CHOICES,
    FormResult,
    generate_settings,
    template_to_form,
)

__all__ = ["TemplateForm"]

_LABELS = {
    "width": "Width",
    "height": "Height",
    "image_type": "Image type",
    "color_model": "Colour model",
    "layout": "Directory layout",
    "mask_keyword": "Mask keyword",
    "fit": "Fit to size",
    "classes": "Classes",
    "mapping": "Mask values",
    "train": "Train fraction",
    "val": "Validation fraction",
    "test": "Test fraction",
    "seed": "Split seed",
    "group_pattern": "Group pattern",
    "output": "Save as",
}
_HINTS = {
    "classes": "background first, comma-separated",
    "mapping": "optional: VALUE=CLASS, e.g. 0=1 or #ff0000=2",
    "group_pattern": "optional regex, e.g. ^(slide\\d+)_",
}
_DESC = {"description_width": "150px"}


def _make_input(name: str, value: Any) -> w.ValueWidget:
    label = _LABELS[name]
    common: dict[str, Any] = {"description": label, "style": _DESC}
    if name in ("width", "height", "seed"):
        return w.IntText(value=value, layout=w.Layout(width="260px"), **common)
    if name in ("train", "val", "test"):
        return w.FloatText(value=value, step=0.05, layout=w.Layout(width="260px"), **common)
    if name == "image_type":
        return w.Dropdown(options=IMAGE_TYPE_CHOICES, value=value, **common)
    if name == "color_model":
        return w.Dropdown(options=COLOR_MODEL_CHOICES, value=value, **common)
    if name == "fit":
        return w.Dropdown(
            options=FIT_CHOICES, value=value, layout=w.Layout(width="460px"), **common
        )
    if name == "layout":
        return w.RadioButtons(
            options=LAYOUT_CHOICES, value=value, layout=w.Layout(width="auto"), **common
        )
    return w.Text(
        value=str(value), placeholder=_HINTS.get(name, ""), layout=w.Layout(width="460px"), **common
    )


class TemplateForm:
    """The dataset template form.

    Parameters
    ----------
    output : path
        Where "Generate settings" writes the JSON (editable in the form).
    template : DatasetTemplate, optional
        Initial values (default: the default template).

    Attributes
    ----------
    inputs : dict
        Field name -> input widget (see :data:`segkit.widgets.logic.template_form.FORM_FIELDS`).
    errors : dict
        Field name -> the HTML widget beside it that shows its error.
    button : ipywidgets.Button
        "Generate settings".
    result : FormResult or None
        What the last click produced.

    Examples
    --------
    >>> form = TemplateForm("my_template.json")   # doctest: +SKIP
    >>> form                                       # shows the form in a notebook
    """

    def __init__(
        self, output: str | Path = "template.json", *, template: DatasetTemplate | None = None
    ) -> None:
        values = template_to_form(template or DatasetTemplate(), output)
        self.inputs: dict[str, w.ValueWidget] = {}
        self.errors: dict[str, w.HTML] = {}
        rows = []
        for name in FORM_FIELDS:
            inp = _make_input(name, values[name])
            inp.add_class(f"segkit-field-{name}")
            err = w.HTML(value="", layout=w.Layout(margin="0 0 0 12px"))
            err.add_class(f"segkit-error-{name}")
            self.inputs[name] = inp
            self.errors[name] = err
            rows.append(w.HBox([inp, err]))
        self.button = w.Button(
            description="Generate settings",
            button_style="primary",
            icon="check",
            layout=w.Layout(width="200px"),
        )
        self.button.add_class("segkit-generate")
        self.status = w.HTML(value="")
        self.status.add_class("segkit-status")
        self.preview = w.HTML(value="")
        self.preview.add_class("segkit-preview")
        self.result: FormResult | None = None
        self.button.on_click(lambda _button: self.generate())
        title = w.HTML("<h3>Dataset Parameters Configuration</h3>")
        sections = [
            title,
            *rows[:7],
            w.HTML("<b>Classes</b>"),
            *rows[7:9],
            w.HTML("<b>Split into train / validation / test</b>"),
            *rows[9:14],
            rows[14],
            w.HBox([self.button, self.status]),
            self.preview,
        ]
        self.widget = w.VBox(sections)
        self.widget.add_class("segkit-template-form")

    def values(self) -> dict[str, Any]:
        """The current value of every field."""
        return {name: inp.value for name, inp in self.inputs.items()}

    def set_values(self, **values: Any) -> None:
        """Set fields by name, e.g. ``form.set_values(width=512, image_type="jpg")``."""
        unknown = set(values) - set(self.inputs)
        if unknown:
            raise KeyError(f"unknown form field(s): {', '.join(sorted(unknown))}")
        for name, value in values.items():
            self.inputs[name].value = value

    def generate(self) -> FormResult:
        """What "Generate settings" does: validate, write the JSON, show it or the errors."""
        result = generate_settings(self.values())
        for name, err in self.errors.items():
            msg = result.errors.get(name, "")
            err.value = f'<span style="color:#c62828">{html.escape(msg)}</span>' if msg else ""
        if result.ok and result.template is not None:
            self.status.value = f"wrote <code>{html.escape(str(result.path))}</code>"
            self.preview.value = (
                '<pre style="line-height:1.3;background:#f5f5f5;padding:8px;margin:0">'
                f"{html.escape(result.template.to_json())}</pre>"
            )
        else:
            n = len(result.errors)
            self.status.value = (
                f'<span style="color:#c62828">{n} field{"s" if n > 1 else ""} to fix; '
                "nothing was written</span>"
            )
            self.preview.value = ""
        self.result = result
        return result

    @property
    def template(self) -> DatasetTemplate | None:
        """The template of the last successful "Generate settings", else ``None``."""
        return self.result.template if self.result is not None and self.result.ok else None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
