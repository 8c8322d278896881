"""What the template form does, as plain functions (no ipywidgets here).

The template form hands :func:`validate_form` a dict of the values its fields hold and gets
back either a :class:`~segkit.template.DatasetTemplate` or an error message per field; all
rules come from :mod:`segkit.template` itself, checked field by field so that every wrong
field is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segkit.template import ClassSpec, DatasetTemplate, SplitSpec, TemplateError, save_template

__all__ = [
    "IMAGE_TYPE_CHOICES",
    "COLOR_MODEL_CHOICES",
    "LAYOUT_CHOICES",
    "FIT_CHOICES",
    "FORM_FIELDS",
    "FormResult",
    "template_to_form",
    "parse_class_names",
    "parse_mapping",
    "validate_form",
    "generate_settings",
]

# (label shown in the form, template value); order as in the paper's form, TIFF added.
IMAGE_TYPE_CHOICES: tuple[tuple[str, str], ...] = (
    ("JPG", "jpg"),
    ("PNG", "png"),
    ("BMP", "bmp"),
    ("TIFF", "tif"),
)
COLOR_MODEL_CHOICES: tuple[tuple[str, str], ...] = (
    ("RGB", "rgb"),
    ("GRAYSCALE", "grayscale"),
    ("BINARY", "binary"),
)
LAYOUT_CHOICES: tuple[tuple[str, str], ...] = (
    ("Separate directories for original images and masks", "separate"),
    (
        "Original images and masks in the same directory (example1.png, example1_mask.png)",
        "suffix",
    ),
)
FIT_CHOICES: tuple[tuple[str, str], ...] = (
    ("stretch (resize, ignore aspect)", "stretch"),
    ("pad (resize, keep aspect, pad)", "pad"),
    ("crop (resize, keep aspect, centre-crop)", "crop"),
    ("tile (cut into tiles, no resizing)", "tile"),
)
# Every value the form holds, in display order.
FORM_FIELDS: tuple[str, ...] = (
    "width",
    "height",
    "image_type",
    "color_model",
    "layout",
    "mask_keyword",
    "fit",
    "classes",
    "mapping",
    "train",
    "val",
    "test",
    "seed",
    "group_pattern",
    "output",
)
_FIELD_IN_MESSAGE = re.compile(r"template field '([^']+)'")


@dataclass(frozen=True)
class FormResult:
    """Outcome of validating (and perhaps writing) the form.

    Attributes
    ----------
    template : DatasetTemplate or None
        ``None`` when any field is invalid.
    errors : dict
        Form field name -> message, for every invalid field.
    path : Path or None
        Where the JSON was written, if it was.
    """

    template: DatasetTemplate | None
    errors: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.template is not None and not self.errors


def template_to_form(template: DatasetTemplate, output: str | Path = "template.json") -> dict:
    """The form values that describe ``template`` (inverse of :func:`validate_form`)."""
    mapping = template.classes.to_dict()["mapping"]
    return {
        "width": template.width,
        "height": template.height,
        "image_type": template.image_type,
        "color_model": template.color_model,
        "layout": template.layout,
        "mask_keyword": template.mask_keyword,
        "fit": template.fit,
        "classes": ", ".join(template.classes.names),
        "mapping": "" if mapping is None else ", ".join(f"{k}={v}" for k, v in mapping.items()),
        "train": template.split.train,
        "val": template.split.val,
        "test": template.split.test,
        "seed": template.split.seed,
        "group_pattern": template.split.group_pattern or "",
        "output": str(output),
    }


def parse_class_names(text: str) -> tuple[str, ...]:
    """``"background, nucleus"`` -> ``("background", "nucleus")``."""
    return tuple(part.strip() for part in str(text).split(","))


def parse_mapping(text: str) -> dict[str, int] | None:
    """``"0=1"`` or ``"#ff0000=2, #00ff00=1"`` -> ``{"#ff0000": 2, ...}``; empty -> ``None``.

    Items are separated by commas, or by semicolons when colours are written as
    ``"255,0,0=2; 0,255,0=1"``.

    Raises
    ------
    TemplateError
        Naming ``classes.mapping`` and the item that does not parse.
    """
    text = str(text).strip()
    if not text:
        return None
    out: dict[str, int] = {}
    # Colours written as "255,0,0" contain commas, so split items on ";" when one is used.
    items = text.split(";") if ";" in text else text.split(",")
    for item in items:
        key, sep, idx = item.strip().rpartition("=")
        if not sep or not key.strip():
            raise TemplateError(
                f"template field 'classes.mapping': invalid value {item.strip()!r}; "
                "write VALUE=CLASS items, e.g. '255=1' or '#ff0000=2, #00ff00=1'"
            )
        try:
            out[key.strip()] = int(idx)
        except ValueError:
            raise TemplateError(
                f"template field 'classes.mapping': invalid value {item.strip()!r}; "
                "the class after '=' is an integer index"
            ) from None
    return out


def _form_field(template_field: str) -> str:
    """Which form field shows an error about ``template_field``."""
    if template_field.startswith("split."):
        return template_field.split(".", 1)[1]
    if template_field == "split":
        return "test"
    if template_field in ("classes.names", "classes"):
        return "classes"
    if template_field == "classes.mapping":
        return "mapping"
    return template_field


def _message(exc: Exception) -> str:
    return str(exc).replace("template field ", "", 1)


def _check(errors: dict[str, str], fallback: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (TemplateError, ValueError, TypeError) as exc:
        m = _FIELD_IN_MESSAGE.search(str(exc))
        name = _form_field(m.group(1)) if m else fallback
        errors.setdefault(name, _message(exc))
        return None


def validate_form(values: Mapping[str, Any]) -> FormResult:
    """Check every form value and build the template.

    Parameters
    ----------
    values : mapping
        Form field -> value (see :data:`FORM_FIELDS`); missing fields take the template's
        defaults. ``classes`` is a comma-separated list of names, ``mapping`` a
        ``VALUE=CLASS`` list, ``group_pattern`` may be empty.

    Returns
    -------
    FormResult
        With the template, or with one message per invalid field (nothing is written).
    """
    defaults = template_to_form(DatasetTemplate())
    v = {**defaults, **{k: values[k] for k in values if k in defaults}}
    errors: dict[str, str] = {}
    for name in ("width", "height", "image_type", "color_model", "layout", "mask_keyword", "fit"):
        _check(errors, name, DatasetTemplate, **{name: v[name]})
    names = parse_class_names(v["classes"])
    mapping = _check(errors, "mapping", parse_mapping, v["mapping"])
    classes = None
    if "mapping" not in errors:
        items = None if mapping is None else tuple(mapping.items())
        classes = _check(errors, "classes", ClassSpec, names=names, mapping=items)
    pattern = str(v["group_pattern"]).strip() or None
    split = _check(
        errors,
        "test",
        SplitSpec,
        train=v["train"],
        val=v["val"],
        test=v["test"],
        seed=v["seed"],
        group_pattern=pattern,
    )
    if not str(v["output"]).strip():
        errors["output"] = "output: give a file name for the template JSON, e.g. template.json"
    elif Path(str(v["output"])).expanduser().is_dir():
        errors["output"] = f"output: {v['output']} is a directory; give a file name"
    if errors:
        return FormResult(None, errors)
    kwargs = {k: v[k] for k in ("width", "height", "image_type", "color_model", "layout", "fit")}
    template = _check(
        errors,
        "output",
        DatasetTemplate,
        mask_keyword=v["mask_keyword"],
        classes=classes,
        split=split,
        **kwargs,
    )
    return FormResult(template, errors)


def generate_settings(values: Mapping[str, Any]) -> FormResult:
    """Validate the form and, when every field is valid, write the template JSON atomically.

    The file goes to ``values["output"]`` (relative paths are relative to the current
    directory). Nothing is written when any field is invalid.
    """
    result = validate_form(values)
    if not result.ok or result.template is None:
        return result
    path = Path(str(values.get("output", "template.json")).strip()).expanduser()
    try:
        written = save_template(result.template, path)
    except OSError as exc:
        return FormResult(None, {"output": f"output: cannot write {path} ({exc.strerror})"})
    return FormResult(result.template, {}, written)
