"""One registry of annotation file formats, and :func:`read_annotations` that picks one.

A format is a name, the file suffixes it uses, a test on the start of the file and a
reader. :func:`read_annotations` takes the first registered format whose suffix and test
both match; a new format is one :func:`register_format` call, not another branch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segkit.annotations._source import fail, read_head
from segkit.annotations.aperio_xml import read_aperio_xml
from segkit.annotations.geometry import Annotation
from segkit.annotations.labelbox import read_labelbox
from segkit.annotations.points import read_point_annotations
from segkit.annotations.qupath_geojson import read_qupath_geojson

__all__ = [
    "AnnotationFormat",
    "detect_format",
    "read_annotations",
    "register_format",
    "registered_formats",
]


@dataclass(frozen=True)
class AnnotationFormat:
    """A readable annotation format.

    Parameters
    ----------
    name : str
        A short name (``"qupath-geojson"``).
    suffixes : tuple of str
        Lower-case suffixes with the dot (``(".geojson", ".json")``).
    detect : callable
        ``detect(head) -> bool`` on the first 64 KiB of the file, decoded as UTF-8.
    read : callable
        ``read(path) -> list[Annotation]``.
    """

    name: str
    suffixes: tuple[str, ...]
    detect: Callable[[str], bool]
    read: Callable[[Path], list[Annotation]]


_FORMATS: list[AnnotationFormat] = []


def register_format(fmt: AnnotationFormat) -> None:
    """Add ``fmt`` after the formats already registered (an equal name replaces it)."""
    for i, known in enumerate(_FORMATS):
        if known.name == fmt.name:
            _FORMATS[i] = fmt
            return
    _FORMATS.append(fmt)


def registered_formats() -> tuple[AnnotationFormat, ...]:
    """The registered formats, in the order :func:`read_annotations` tries them."""
    return tuple(_FORMATS)


def detect_format(path: str | Path) -> AnnotationFormat:
    """The format of ``path`` by its suffix and content.

    Raises
    ------
    AnnotationError
        When no registered format matches (the message lists them).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    head = read_head(path).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    for fmt in _FORMATS:
        if suffix in fmt.suffixes and fmt.detect(head):
            return fmt
    known = ", ".join(f"{f.name} ({'/'.join(f.suffixes)})" for f in _FORMATS)
    raise fail(path, f"not a known annotation format; segkit reads {known}")


def read_annotations(path: str | Path) -> list[Annotation]:
    """Read any registered annotation file into a list of :class:`Annotation`.

    QuPath GeoJSON (``.geojson``/``.json`` with GeoJSON types), Aperio ImageScope XML
    (``.xml`` with ``<Annotations``), a Labelbox export (a list of entries with
    ``"External ID"``; each annotation's ``image`` names its image) and point files
    (a list of ``{"x", "y", "label_id"}``, SHIDC class names).

    Raises
    ------
    AnnotationError
        One line naming the file and the problem.
    """
    path = Path(path)
    return detect_format(path).read(path)


_GEOJSON = re.compile(r'"type"\s*:\s*"(FeatureCollection|Feature)"')


def _read_aperio(path: Path) -> list[Annotation]:
    return list(read_aperio_xml(path).annotations)


def _read_labelbox(path: Path) -> list[Annotation]:
    return [a for image in read_labelbox(path).values() for a in image]


for _fmt in (
    AnnotationFormat(
        "qupath-geojson",
        (".geojson", ".json"),
        lambda head: head[:1] in "{[" and bool(_GEOJSON.search(head)),
        read_qupath_geojson,
    ),
    AnnotationFormat("aperio-xml", (".xml",), lambda head: "<Annotations" in head, _read_aperio),
    AnnotationFormat(
        "labelbox",
        (".json",),
        # An entry's "External ID" may come after 64 KiB of polygons; "DataRow ID" leads it.
        lambda head: head.startswith("[") and ('"External ID"' in head or '"DataRow ID"' in head),
        _read_labelbox,
    ),
    AnnotationFormat(
        "points",
        (".json",),
        lambda head: head.startswith("[") and '"label_id"' in head,
        read_point_annotations,
    ),
):
    register_format(_fmt)
