"""The shared model of an annotation: a polygon or points, a class, an object type.

Coordinates
-----------
Every reader returns ``(x, y)`` pixel coordinates of the full-resolution image: ``x`` is
the column, ``y`` the row, both growing from the top-left. Like QuPath, segkit uses the
**pixel-corner** convention: ``(0, 0)`` is the top-left *corner* of the top-left pixel, and
pixel ``(row r, col c)`` is the unit square ``[c, c + 1) x [r, r + 1)`` with its centre at
``(c + 0.5, r + 0.5)``. A point ``(x, y)`` therefore lies in pixel
``(floor(y), floor(x))``, and a polygon covers the pixels whose centres lie inside it (see
:mod:`segkit.annotations.rasterize`).

A polygon ring is stored open: the closing point that GeoJSON repeats is dropped on reading
and added again on writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

__all__ = [
    "OBJECT_TYPES",
    "Annotation",
    "AnnotationError",
    "Geometry",
    "MultiPolygon",
    "ObjectType",
    "Points",
    "Polygon",
    "PointSet",
    "point_set",
    "ring_area",
]

ObjectType = Literal["annotation", "detection", "cell"]
OBJECT_TYPES: tuple[str, ...] = ("annotation", "detection", "cell")


class AnnotationError(ValueError):
    """An annotation file that cannot be read or written; the message names the file."""


def _ring(coords: object, what: str) -> np.ndarray:
    """An open ``(N, 2)`` float64 ring: the repeated closing point is dropped."""
    arr = np.asarray(coords, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{what} must be an (N, 2) array of (x, y), got shape {arr.shape}")
    arr = arr[:, :2]
    if len(arr) > 1 and np.array_equal(arr[0], arr[-1]):
        arr = arr[:-1]
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} has a coordinate that is not a finite number")
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


def ring_area(ring: np.ndarray) -> float:
    """Unsigned area of a ring ``(N, 2)`` by the shoelace formula (0 for fewer than 3 points)."""
    if len(ring) < 3:
        return 0.0
    x, y = ring[:, 0], ring[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


@dataclass(frozen=True, eq=False)
class Polygon:
    """A polygon with optional holes.

    Parameters
    ----------
    exterior : (N, 2) array
        ``(x, y)`` vertices of the outline, open (not repeating the first point).
    holes : tuple of (M, 2) arrays
        Outlines of holes; hole pixels are not part of the polygon.
    """

    exterior: np.ndarray
    holes: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "exterior", _ring(self.exterior, "polygon exterior"))
        holes = tuple(_ring(h, "polygon hole") for h in self.holes)
        object.__setattr__(self, "holes", holes)

    @property
    def is_degenerate(self) -> bool:
        """True when the outline has fewer than 3 distinct points or zero area."""
        distinct = np.unique(self.exterior, axis=0)
        return len(distinct) < 3 or ring_area(self.exterior) == 0.0

    @property
    def area(self) -> float:
        """Area in pixels² of the outline less its holes (polygon geometry, not pixel count)."""
        return ring_area(self.exterior) - sum(ring_area(h) for h in self.holes)


@dataclass(frozen=True, eq=False)
class MultiPolygon:
    """Several polygons that make one object (one id when rasterised)."""

    polygons: tuple[Polygon, ...]

    @property
    def is_degenerate(self) -> bool:
        """True when every part is degenerate."""
        return all(p.is_degenerate for p in self.polygons)


@dataclass(frozen=True, eq=False)
class Points:
    """One or more points ``(N, 2)`` of ``(x, y)``; never rasterised as an outline."""

    coords: np.ndarray

    def __post_init__(self) -> None:
        arr = np.asarray(self.coords, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(arr).all():
            raise ValueError("a point coordinate is not a finite number")
        arr.setflags(write=False)
        object.__setattr__(self, "coords", arr)


Geometry = Polygon | MultiPolygon | Points


@dataclass(frozen=True, eq=False)
class Annotation:
    """One annotated object.

    Parameters
    ----------
    geometry : Polygon, MultiPolygon or Points
        Its shape in pixel coordinates (see the module notes).
    class_name : str or None
        Its class (``"Positive"``, ``"Negative"``, ...); ``None`` when unclassified.
    object_type : {"annotation", "detection", "cell"}
        QuPath's object type; readers of other formats use ``"annotation"``.
    measurements : mapping of str to float
        Named numbers (QuPath measurements may be NaN).
    id : str or None
        The object's id in its file (a UUID in QuPath exports).
    color : (r, g, b) or None
        The class colour given in the file.
    image : str or None
        The image the object belongs to, for files that cover several (Labelbox).
    nucleus : Polygon or None
        For QuPath cells, the nucleus outline (``geometry`` is then the cell outline).
    """

    geometry: Geometry
    class_name: str | None = None
    object_type: ObjectType = "annotation"
    measurements: Mapping[str, float] = field(default_factory=dict)
    id: str | None = None
    color: tuple[int, int, int] | None = None
    image: str | None = None
    nucleus: Polygon | None = None

    def __post_init__(self) -> None:
        if self.object_type not in OBJECT_TYPES:
            raise ValueError(f"object_type must be one of {OBJECT_TYPES}, got {self.object_type!r}")
        object.__setattr__(self, "measurements", MappingProxyType(dict(self.measurements)))


@dataclass(frozen=True, eq=False)
class PointSet:
    """Points for counting and validation: ``coords`` ``(N, 2)`` of ``(x, y)``, one class each."""

    coords: np.ndarray
    class_names: tuple[str | None, ...]

    def counts(self) -> dict[str | None, int]:
        """Number of points per class, in order of first appearance."""
        out: dict[str | None, int] = {}
        for name in self.class_names:
            out[name] = out.get(name, 0) + 1
        return out

    def of_class(self, class_name: str | None) -> np.ndarray:
        """The ``(K, 2)`` coordinates of the points of one class."""
        keep = np.array([n == class_name for n in self.class_names], dtype=bool)
        return self.coords[keep] if len(keep) else self.coords[:0]

    def pixels(self) -> np.ndarray:
        """``(N, 2)`` integer ``(row, col)`` of the pixel each point lies in."""
        return np.floor(self.coords[:, ::-1]).astype(np.int64)


def point_set(annotations: Iterable[Annotation]) -> PointSet:
    """Collect the points of ``annotations`` (polygons are ignored) into one :class:`PointSet`."""
    coords: list[np.ndarray] = []
    names: list[str | None] = []
    for ann in annotations:
        if isinstance(ann.geometry, Points):
            coords.append(ann.geometry.coords)
            names.extend([ann.class_name] * len(ann.geometry.coords))
    arr = np.concatenate(coords) if coords else np.zeros((0, 2))
    return PointSet(arr, tuple(names))
