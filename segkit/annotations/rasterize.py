"""Polygons to label images: one id per object, or one value per class.

The rules (see ``docs/annotations.md``):

- **Pixel centres.** Pixel ``(row r, col c)`` belongs to a polygon when its centre
  ``(c + 0.5, r + 0.5)`` lies inside the outline (QuPath's pixel-corner coordinates, see
  :mod:`segkit.annotations.geometry`). A centre exactly on an edge belongs to the polygon to
  its right (of a vertical edge) or below it (of a horizontal edge), a half-open rule: two
  polygons that share an edge never both claim a pixel and leave no gap between them.
- **Holes** are not painted: a hole pixel keeps what was there before (background, unless an
  earlier polygon covers it). Inside-ness is even-odd over the exterior and its holes.
- **Overlaps**: polygons are painted in the order given (file order), so where two overlap
  the pixel goes to the one that comes **later**.
- **Image border**: polygons that touch or cross the border are clipped to the image and
  kept; a polygon entirely outside paints nothing.
- **Degenerate polygons** (fewer than 3 distinct points, or zero area) are skipped;
  :func:`find_degenerate` lists them, so a caller can count them.
- **Points** are never rasterised: passing one raises :class:`AnnotationError`.

In :func:`rasterize_instances` label ``k`` is ``annotations[k - 1]``, so an id leads straight
back to its annotation; skipped, hidden or outside polygons leave their id unused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from segkit.annotations.geometry import (
    Annotation,
    AnnotationError,
    MultiPolygon,
    Points,
    Polygon,
)

__all__ = ["find_degenerate", "rasterize_classes", "rasterize_instances"]


def _parts(ann: Annotation, index: int) -> tuple[Polygon, ...]:
    geom = ann.geometry
    if isinstance(geom, Points):
        raise AnnotationError(
            f"annotation {index} is a point, not an outline; points are counted, not "
            "rasterised (use segkit.annotations.point_set)"
        )
    if isinstance(geom, MultiPolygon):
        return tuple(p for p in geom.polygons if not p.is_degenerate)
    return () if geom.is_degenerate else (geom,)


def find_degenerate(annotations: Sequence[Annotation]) -> list[int]:
    """Indices of the polygon annotations that rasterisation skips (no area to paint).

    A polygon is degenerate with fewer than 3 distinct vertices or zero area; a
    multipolygon when all its parts are. Point annotations are not listed.
    """
    return [
        i
        for i, ann in enumerate(annotations)
        if not isinstance(ann.geometry, Points) and ann.geometry.is_degenerate
    ]


def _check_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"shape must be (height, width) with both >= 1, got {shape}")
    return int(shape[0]), int(shape[1])


def _polygon_mask(polygon: Polygon, height: int, width: int) -> tuple[np.ndarray, int, int] | None:
    """Inside-mask of ``polygon`` over its bounding box clipped to the image.

    Returns ``(mask, row0, col0)`` or ``None`` when it covers no pixel of the image.
    """
    rings = (polygon.exterior, *polygon.holes)
    x0 = np.concatenate([r[:, 0] for r in rings])
    y0 = np.concatenate([r[:, 1] for r in rings])
    x1 = np.concatenate([np.roll(r[:, 0], -1) for r in rings])
    y1 = np.concatenate([np.roll(r[:, 1], -1) for r in rings])
    ext = polygon.exterior
    # Rows and columns whose centres can lie inside the exterior's bounding box.
    r0 = max(int(np.ceil(ext[:, 1].min() - 0.5)), 0)
    r1 = min(int(np.ceil(ext[:, 1].max() - 0.5)), height)
    c0 = max(int(np.ceil(ext[:, 0].min() - 0.5)), 0)
    c1 = min(int(np.ceil(ext[:, 0].max() - 0.5)), width)
    if r0 >= r1 or c0 >= c1:
        return None
    yc = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5  # (R, 1) row centres
    crosses = ((y0 <= yc) & (yc < y1)) | ((y1 <= yc) & (yc < y0))  # (R, E), half-open
    dy = np.where(y1 == y0, 1.0, y1 - y0)
    xs = x0 + (yc - y0) * (x1 - x0) / dy  # (R, E) where each edge meets the row centre
    # Crossing at x toggles inside-ness from the first pixel whose centre is >= x.
    start = np.clip(np.ceil(xs - 0.5).astype(np.int64) - c0, 0, c1 - c0)
    toggles = np.zeros((r1 - r0, c1 - c0 + 1), dtype=np.int32)
    rows, edges = np.nonzero(crosses)
    np.add.at(toggles, (rows, start[rows, edges]), 1)
    mask = (np.cumsum(toggles[:, :-1], axis=1) & 1).astype(bool)
    if not mask.any():
        return None
    return mask, r0, c0


def _paint(out: np.ndarray, parts: tuple[Polygon, ...], value: int) -> None:
    height, width = out.shape
    for polygon in parts:
        found = _polygon_mask(polygon, height, width)
        if found is None:
            continue
        mask, r0, c0 = found
        window = out[r0 : r0 + mask.shape[0], c0 : c0 + mask.shape[1]]
        window[mask] = value


def rasterize_instances(annotations: Sequence[Annotation], shape: tuple[int, ...]) -> np.ndarray:
    """Paint each polygon with its own id.

    Parameters
    ----------
    annotations : sequence of Annotation
        Polygons or multipolygons, painted in order (a later one wins an overlap).
    shape : (height, width)
        The image shape; extra trailing dimensions (channels) are ignored.

    Returns
    -------
    labels : (height, width) uint16 ndarray (uint32 from 65,535 annotations)
        0 is background; ``k`` is ``annotations[k - 1]``.

    Raises
    ------
    AnnotationError
        When an annotation is a point.
    """
    height, width = _check_shape(tuple(shape))
    dtype = np.uint16 if len(annotations) < 2**16 else np.uint32
    out = np.zeros((height, width), dtype=dtype)
    parts = [_parts(ann, i) for i, ann in enumerate(annotations)]
    for i, part in enumerate(parts):
        _paint(out, part, i + 1)
    return out


def rasterize_classes(
    annotations: Sequence[Annotation],
    shape: tuple[int, ...],
    class_index: Mapping[str, int],
) -> np.ndarray:
    """Paint each polygon with the value of its class.

    Parameters
    ----------
    annotations : sequence of Annotation
        Polygons or multipolygons, painted in order (a later one wins an overlap).
    shape : (height, width)
        The image shape; extra trailing dimensions are ignored.
    class_index : mapping of str to int
        Class name to pixel value, 1..255 (0 is background), e.g.
        ``{"Positive": 1, "Negative": 2}``.

    Returns
    -------
    mask : (height, width) uint8 ndarray

    Raises
    ------
    AnnotationError
        When an annotation is a point, or its class is missing from ``class_index``.
    ValueError
        When a value of ``class_index`` is outside 1..255.
    """
    height, width = _check_shape(tuple(shape))
    for name, value in class_index.items():
        if not 1 <= int(value) <= 255:
            raise ValueError(f"class_index[{name!r}] = {value}: expected 1..255 (0 is background)")
    unknown = sorted({str(a.class_name) for a in annotations if a.class_name not in class_index})
    if unknown:
        raise AnnotationError(
            f"classes {unknown} are not in class_index {sorted(class_index)}; add them "
            "or filter the annotations first"
        )
    out = np.zeros((height, width), dtype=np.uint8)
    parts = [_parts(ann, i) for i, ann in enumerate(annotations)]
    for ann, part in zip(annotations, parts, strict=True):
        _paint(out, part, int(class_index[str(ann.class_name)]))
    return out
