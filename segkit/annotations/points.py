"""Point annotations: one point per cell, ``[{"x", "y", "label_id"}]`` (SHIDC-B-Ki-67).

The coordinates are pixel indices (x = column, y = row); a point ``(x, y)`` lies in pixel
``(floor(y), floor(x))``. Label ids are named by a mapping, by default SHIDC-B-Ki-67's
(:data:`SHIDC_LABELS`): 1 = positive tumour cell, 2 = negative tumour cell,
3 = lymphocyte (not counted in the Ki-67 index). Points are for counting and validation;
they are never rasterised as outlines.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from segkit.annotations._source import fail, load_json, number
from segkit.annotations.geometry import Annotation, Points, PointSet

__all__ = ["SHIDC_LABELS", "read_point_annotations", "read_points"]

SHIDC_LABELS: Mapping[int, str] = {1: "Positive", 2: "Negative", 3: "Lymphocyte"}


def read_points(path: str | Path, *, labels: Mapping[int, str] = SHIDC_LABELS) -> PointSet:
    """Read a point file into ``(N, 2)`` coordinates and one class name per point.

    Parameters
    ----------
    path : str or Path
        A ``.json`` list of ``{"x", "y", "label_id"}``.
    labels : mapping of int to str, default :data:`SHIDC_LABELS`
        Class name of each label id; an id missing from it is an error.

    Returns
    -------
    PointSet
        ``coords`` ``(N, 2)`` float of ``(x, y)`` and ``class_names``, in file order.

    Raises
    ------
    AnnotationError
        One line naming the file (and the point) and the problem.
    """
    data = load_json(path)
    if not isinstance(data, list):
        raise fail(path, 'a point file is a JSON list of {"x", "y", "label_id"}')
    coords = np.zeros((len(data), 2), dtype=np.float64)
    names: list[str] = []
    for i, item in enumerate(data):
        try:
            coords[i] = (number(item["x"], "x"), number(item["y"], "y"))
            label_id = item["label_id"]
            if isinstance(label_id, bool) or not isinstance(label_id, int):
                raise ValueError(f"label_id must be an integer, got {label_id!r}")
        except (KeyError, TypeError, ValueError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise fail(path, f"point {i}: {what}") from exc
        if label_id not in labels:
            raise fail(
                path,
                f"point {i}: label_id {label_id} has no class name (known: {dict(labels)}); "
                "name the ids with --point-labels ID=NAME,... (SourceLayout(point_labels=...))",
            )
        names.append(labels[label_id])
    if not np.isfinite(coords).all():
        raise fail(path, "a point coordinate is not a finite number")
    coords.setflags(write=False)
    return PointSet(coords, tuple(names))


def read_point_annotations(
    path: str | Path, *, labels: Mapping[int, str] = SHIDC_LABELS
) -> list[Annotation]:
    """The points of :func:`read_points` as one point :class:`Annotation` each."""
    points = read_points(path, labels=labels)
    return [
        Annotation(Points(xy[None, :]), class_name=name)
        for xy, name in zip(points.coords, points.class_names, strict=True)
    ]
