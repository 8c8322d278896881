"""Read the JSON of the original paper's "Dataset Parameters Configuration" web form.

``{"height": "512", "width": "512", "image_type": "2", "color_model": "1",
"separate_file_format": "on", "description": "_mask", "_token": "..."}``: numbers are
strings; ``image_type`` is a 1-based index into (JPG, PNG, BMP) and ``color_model`` into
(RGB, GRAYSCALE, BINARY); ``separate_file_format`` "on" means separate directories (absent or
anything else: same directory); ``description`` is the mask keyword. ``_token`` (a web-form
CSRF token) is ignored.

:func:`segkit.template.template_from_paper` and :func:`segkit.template.parse_template` use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segkit.template.spec import _bad, _int_field, _norm_choice

__all__ = ["PAPER_IMAGE_TYPES", "PAPER_COLOR_MODELS", "is_paper_form", "paper_form_fields"]

# The paper's form lists these choices, in this order; its JSON stores 1-based indices.
PAPER_IMAGE_TYPES = ("jpg", "png", "bmp")
PAPER_COLOR_MODELS = ("rgb", "grayscale", "binary")
_FIELDS = frozenset(
    ("_token", "height", "width", "image_type", "color_model", "separate_file_format",
     "description")
)  # fmt: skip


def is_paper_form(data: Mapping[str, Any]) -> bool:
    """True for the JSON written by the paper's web form."""
    return (
        "separate_file_format" in data
        or "description" in data
        or ("image_type" in data and str(data.get("image_type", "")).strip().isdigit())
    )


def _index(data: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    raw = data.get(name)
    if raw is None:
        return choices[0] if name == "color_model" else "png"
    try:
        i = int(str(raw).strip())
    except ValueError:
        return _norm_choice(name, str(raw), choices)
    if not 1 <= i <= len(choices):
        raise _bad(name, raw, f"an index from 1 to {len(choices)} ({', '.join(choices)})")
    return choices[i - 1]


def paper_form_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~segkit.template.DatasetTemplate` fields the paper's form ``data`` gives.

    Raises
    ------
    TemplateError
        A field the form does not have, or a value it cannot hold.
    """
    unknown = set(data) - _FIELDS
    if unknown:
        raise _bad(sorted(unknown)[0], data[sorted(unknown)[0]], "not a field of the paper's form")
    sep = str(data.get("separate_file_format", "")).strip().lower()
    separate = sep in ("on", "1", "true", "yes")
    keyword = data.get("description")
    if not separate and (keyword is None or not str(keyword).strip()):
        raise _bad(
            "description",
            keyword,
            "the mask keyword that marks mask files in one folder (e.g. '_mask'); the form's "
            "same-directory layout needs it",
        )
    return {
        "height": _int_field("height", data.get("height", 256)),
        "width": _int_field("width", data.get("width", 256)),
        "image_type": _index(data, "image_type", PAPER_IMAGE_TYPES),
        "color_model": _index(data, "color_model", PAPER_COLOR_MODELS),
        "layout": "separate" if separate else "suffix",
        # With separate folders the keyword names nothing in the source; keep the default.
        "mask_keyword": keyword if keyword and str(keyword).strip() else "_mask",
    }
