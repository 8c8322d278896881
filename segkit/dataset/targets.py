"""What a source pair gives beside its image: class mask, instance labels and points.

The rules (see ``docs/prepared-dataset.md``):

- **Per-object mask files** (Kaggle layout): the mask is their pixel maximum; the instance
  labels number the objects in file order (1, 2, ...; a later file wins an overlap).
- **One label mask** is read as instance labels when the template's classes have no
  ``mapping``, it is single-channel with at least two distinct non-zero values, and it is
  16- or 32-bit or has more distinct non-zero values than the template has classes. A binary
  {0,1} or {0,255} mask is never instances. Its mask is every non-zero pixel, as before.
- **Polygons** (an annotation file) give the instance labels (``rasterize_instances``, file
  order); they replace the ids of a label mask. With a mask file the mask file is the mask;
  without one the mask is rasterised from the polygons (``rasterize_classes``): with a binary
  template every polygon is class 1, else its class name is matched case-insensitively to the
  template's class names (an unnamed polygon is class 1; an unknown name skips the pair).
- **Points** of an annotation file are kept as points (never rasterised). A pair with points
  and no mask file and no polygons has no mask.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segkit.template import ClassSpec, DatasetTemplate

__all__ = [
    "NO_INSTANCES",
    "SourceTargets",
    "annotation_targets",
    "class_index",
    "encode_instances",
    "annotation_summary",
    "encode_points",
    "instance_labels",
    "kaggle_instances",
    "relabel",
]

NO_INSTANCES = "no instance labels (the template's target is instances)"


@dataclass(frozen=True)
class SourceTargets:
    """The annotation parts of one source pair, at source resolution.

    Attributes
    ----------
    classes : (M, N) uint8 ndarray or None
        Class indices rasterised from polygons (None: the mask file gives the mask).
    instances : (M, N) integer ndarray or None
        Instance labels from the polygons.
    points : (K, 2) float ndarray or None
        ``(x, y)`` of the points, with ``point_classes``.
    point_classes : tuple of str
    """

    classes: np.ndarray | None = None
    instances: np.ndarray | None = None
    points: np.ndarray | None = None
    point_classes: tuple[str, ...] = ()


def instance_labels(mask: Any, classes: ClassSpec) -> np.ndarray | None:
    """``mask`` (an array, or an 8-bit grey Pillow image) as an array when it holds instance
    labels by the module's rule, else None."""
    if classes.mapping is not None:
        return None
    if getattr(mask, "mode", None) == "L":  # Pillow's histogram: no array copy for the answer
        nonzero = sum(1 for n in mask.histogram()[1:] if n)
        return np.asarray(mask) if nonzero >= 2 and nonzero > classes.num_classes else None
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype.kind not in "ui":
        return None
    if mask.dtype == np.uint8:
        nonzero = int(np.count_nonzero(np.bincount(mask.ravel(), minlength=256)[1:]))
    else:
        values = np.unique(mask)
        nonzero = int(np.count_nonzero(values))
    if nonzero < 2:
        return None
    if mask.dtype.itemsize >= 2 or nonzero > classes.num_classes:
        return mask
    return None


def kaggle_instances(masks: list[np.ndarray]) -> np.ndarray:
    """Label image of per-object masks: object ``k`` (file order) is id ``k``."""
    dtype = np.uint16 if len(masks) < 2**16 else np.uint32
    out = np.zeros(masks[0].shape[:2], dtype=dtype)
    for k, m in enumerate(masks, start=1):
        out[(m != 0) if m.ndim == 2 else np.any(m != 0, axis=2)] = k
    return out


def relabel(labels: np.ndarray) -> np.ndarray:
    """Ids renumbered 1..N keeping their order; uint16, uint32 past 65535 objects."""
    ids, inverse = np.unique(labels, return_inverse=True)
    first = 0 if ids.size and ids[0] == 0 else 1
    order = np.arange(first, first + ids.size)
    n = int(order[-1]) if order.size else 0
    dtype = np.uint16 if n < 2**16 else np.uint32
    return order.astype(dtype)[inverse.reshape(labels.shape)]


def class_index(template: DatasetTemplate, names: set[str | None]) -> dict[str, int]:
    """Pixel value of each annotation class name (the rule in the module docstring).

    Raises
    ------
    ValueError
        Naming a class that is not among the template's.
    """
    out: dict[str, int] = {}
    lower = {n.lower(): i for i, n in enumerate(template.classes.names) if i}
    for name in names:
        key = str(name)
        if template.classes.is_binary or name is None or not str(name).strip():
            out[key] = 1
        elif key.lower() in lower:
            out[key] = lower[key.lower()]
        else:
            known = ", ".join(template.classes.names[1:])
            raise ValueError(
                f"annotation class {key!r} is not among the template's classes ({known})"
            )
    return out


def _read(
    path: Path, key: str | None, point_labels: tuple[tuple[int, str], ...] | None
) -> list[Any]:
    from segkit.annotations import read_annotations, read_labelbox
    from segkit.annotations.formats import detect_format
    from segkit.annotations.points import read_point_annotations

    if key is None:
        if point_labels is not None and detect_format(path).name == "points":
            return read_point_annotations(path, labels=dict(point_labels))
        return read_annotations(path)
    entries = read_labelbox(path)
    if key not in entries:
        raise ValueError(f"{path}: no labelled entry for {key!r}")
    return entries[key]


def annotation_summary(
    path: Path, key: str | None = None, point_labels: tuple[tuple[int, str], ...] | None = None
) -> dict[str, Any]:
    """What one annotation file holds: ``{"polygons": n, "points": n, "classes": {name: n}}``
    (objects of each class name; ``"(none)"`` for unclassified ones).

    Raises
    ------
    ValueError
        A bad file (:class:`~segkit.annotations.AnnotationError`), one line.
    """
    from segkit.annotations import Points

    polygons = points = 0
    classes: dict[str, int] = {}
    for a in _read(path, key, point_labels):
        n = len(a.geometry.coords) if isinstance(a.geometry, Points) else 1
        if isinstance(a.geometry, Points):
            points += n
        else:
            polygons += 1
        name = "(none)" if a.class_name is None else str(a.class_name)
        classes[name] = classes.get(name, 0) + n
    return {"polygons": polygons, "points": points, "classes": dict(sorted(classes.items()))}


def annotation_targets(
    path: Path,
    key: str | None,
    shape: tuple[int, int],
    template: DatasetTemplate,
    *,
    has_mask: bool,
    point_labels: tuple[tuple[int, str], ...] | None = None,
) -> SourceTargets:
    """Read one annotation file and rasterise its polygons at ``shape``.

    ``point_labels`` names the ``label_id`` of point files (default SHIDC-B-Ki-67's).

    Raises
    ------
    ValueError
        A bad file (:class:`~segkit.annotations.AnnotationError`) or an unknown class.
    """
    from segkit.annotations import Points, rasterize_classes, rasterize_instances

    annotations = _read(path, key, point_labels)
    polygons = [a for a in annotations if not isinstance(a.geometry, Points)]
    point_list = [a for a in annotations if isinstance(a.geometry, Points)]
    out: dict[str, Any] = {}
    if polygons:
        out["instances"] = rasterize_instances(polygons, shape)
        if not has_mask:
            index = class_index(template, {a.class_name for a in polygons})
            named = [a if a.class_name is not None else _named(a) for a in polygons]
            out["classes"] = rasterize_classes(named, shape, index)
    if point_list:
        xy = np.concatenate([np.asarray(a.geometry.coords) for a in point_list])
        names = tuple(str(a.class_name) for a in point_list for _ in range(len(a.geometry.coords)))
        out["points"], out["point_classes"] = xy.reshape(-1, 2), names
    return SourceTargets(**out)


def _named(annotation: Any) -> Any:
    import dataclasses

    return dataclasses.replace(annotation, class_name="None")


def encode_instances(labels: np.ndarray) -> bytes:
    """zlib TIFF of a label image (uint16, uint32 past 65535 ids)."""
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, labels, compression="zlib", metadata=None)
    return buf.getvalue()


def encode_points(xy: np.ndarray, classes: tuple[str, ...]) -> bytes:
    """JSON ``[{"x", "y", "class"}]`` (coordinates rounded to 1/1000 pixel)."""
    items = [
        {"x": round(float(x), 3), "y": round(float(y), 3), "class": c}
        for (x, y), c in zip(xy, classes, strict=True)
    ]
    return (json.dumps(items) + "\n").encode("utf-8")
