"""Labelbox JSON exports (the legacy format of 2019-2020): polygons per image, per class.

::

    [{"External ID": "1309620 -A2-28.jpg",
      "Label": {"Positive": [{"geometry": [{"x": 14, "y": 0}, ...]}, ...],
                "Negative": [...]}},
     {"External ID": "1309620 -A2-28.jpg", "Label": "Skip"}, ...]

Coordinates are pixels of the original image, origin top-left (checked against the masks of
the glioma Ki-67 fields: Dice 0.95-0.98; flipping y gives under 0.15). Entries whose
``Label`` is ``"Skip"`` or that carry ``"Skipped": true`` are left out. A ``geometry`` that
is a single ``{"x", "y"}`` (a point tool) becomes a point. The later format with
``"Label": {"objects": [{"title", "polygon" | "point"}]}`` is read too.

Two labelled entries for the same External ID are refused: merging two labellers' work
would count each nucleus twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from segkit.annotations._source import fail, load_json, number
from segkit.annotations.geometry import Annotation, Geometry, Points, Polygon
from segkit.validation import quote

__all__ = ["read_labelbox"]


def _xy(points: Any) -> np.ndarray:
    if not isinstance(points, list):
        raise ValueError(f"geometry must be a list of {{x, y}}, got {quote(points, limit=60)}")
    return np.array(
        [(number(p["x"], "x"), number(p["y"], "y")) for p in points], dtype=np.float64
    ).reshape(-1, 2)


def _shape(obj: Any) -> Geometry:
    if not isinstance(obj, dict):
        raise ValueError(f"an object must be a JSON object, got {quote(obj, limit=60)}")
    geom = obj.get("geometry", obj.get("polygon", obj.get("point")))
    if isinstance(geom, dict):
        return Points(_xy([geom]))
    if geom is None:
        raise ValueError(f"an object without geometry: {quote(obj, limit=80)}")
    return Polygon(_xy(geom))


def _objects(label: Mapping[str, Any], image: str) -> list[Annotation]:
    out = []
    if isinstance(label.get("objects"), list):  # the later export format
        for obj in label["objects"]:
            name = obj.get("title", obj.get("value"))
            fid = obj.get("featureId")
            out.append(Annotation(_shape(obj), class_name=name, image=image, id=fid))
        return out
    for class_name, objects in label.items():
        if not isinstance(objects, list):
            continue  # e.g. a classification answer, not a drawn object
        for obj in objects:
            out.append(Annotation(_shape(obj), class_name=str(class_name), image=image))
    return out


def _skipped(entry: Mapping[str, Any]) -> bool:
    label = entry.get("Label")
    if entry.get("Skipped") is True or (isinstance(label, str) and label.lower() == "skip"):
        return True
    return isinstance(label, Mapping) and not label  # an empty Label: nothing drawn


def read_labelbox(path: str | Path) -> dict[str, list[Annotation]]:
    """Read a Labelbox export: the polygons of each image, keyed by ``External ID``.

    Parameters
    ----------
    path : str or Path
        The export's ``.json`` file (a list of entries).

    Returns
    -------
    dict of str to list of Annotation
        In file order; each annotation's ``image`` is its External ID and its
        ``class_name`` the Label key (``"Positive"``, ``"Negative"``, ...).

    Raises
    ------
    AnnotationError
        One line naming the file (and the entry) and the problem.
    """
    data = load_json(path)
    if not isinstance(data, list):
        raise fail(path, "a Labelbox export is a JSON list of entries")
    out: dict[str, list[Annotation]] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "External ID" not in entry:
            raise fail(path, f"entry {i} has no 'External ID'")
        if _skipped(entry):
            continue
        image = str(entry["External ID"])
        label = entry.get("Label")
        if not isinstance(label, Mapping):
            raise fail(path, f"entry {i} ({image}): Label must be an object or 'Skip'")
        if image in out:
            raise fail(
                path, f"entry {i}: a second labelled entry for {image!r}; keep one per image"
            )
        try:
            out[image] = _objects(label, image)
        except (ValueError, KeyError, TypeError) as exc:
            raise fail(path, f"entry {i} ({image}): {exc}") from exc
    return out
