"""Reading and writing templates: a dict or a JSON file (segkit's schema or the paper's form)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from segkit.files import read_json
from segkit.template.spec import (
    ClassSpec,
    DatasetTemplate,
    SplitSpec,
    TemplateError,
    _bad,
    _int_field,
)

__all__ = ["load_template", "save_template", "template_from_paper", "parse_template"]


def template_from_paper(data: Mapping[str, Any], **overrides: Any) -> DatasetTemplate:
    """Convert the paper's form JSON into a template (:mod:`segkit.template.paper_form`).

    ``overrides`` replace fields of the converted form.
    """
    from segkit.template.paper_form import paper_form_fields

    return DatasetTemplate(**{**paper_form_fields(data), **overrides})


def parse_template(data: Mapping[str, Any]) -> DatasetTemplate:
    """Validate a dict (segkit's schema or the paper's form) and return the template."""
    if not isinstance(data, Mapping):
        raise TemplateError(f"a template is a JSON object, got {type(data).__name__}")
    from segkit.template.paper_form import is_paper_form

    if is_paper_form(data) and "layout" not in data:
        return template_from_paper(data)
    known = {f.name for f in fields(DatasetTemplate)}
    unknown = set(data) - known
    if unknown:
        name = sorted(unknown)[0]
        raise _bad(
            name, data[name], f"not a template field; known fields: {', '.join(sorted(known))}"
        )
    kwargs = dict(data)
    for name in ("height", "width"):
        if name in kwargs:
            kwargs[name] = _int_field(name, kwargs[name])
    if "classes" in kwargs and not isinstance(kwargs["classes"], Mapping | ClassSpec):
        raise _bad("classes", kwargs["classes"], "an object with 'names' and 'mapping'")
    if "split" in kwargs and not isinstance(kwargs["split"], Mapping | SplitSpec):
        raise _bad("split", kwargs["split"], "an object with train/val/test fractions")
    return DatasetTemplate(**kwargs)


def load_template(path: str | Path) -> DatasetTemplate:
    """Read a template JSON file (segkit's schema or the paper's form).

    Raises
    ------
    TemplateError
        Naming the file and the invalid field.
    """
    p = Path(path)
    try:
        data = read_json(p)
    except FileNotFoundError:
        raise TemplateError(f"{p}: cannot read the template (no such file)") from None
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    try:
        return parse_template(data)
    except TemplateError as exc:
        raise TemplateError(f"{p}: {exc}") from None


def save_template(template: DatasetTemplate, path: str | Path) -> Path:
    """Write ``template`` as JSON, atomically. Returns the path."""
    from segkit.files import atomic_write_text

    return atomic_write_text(Path(path), template.to_json())
