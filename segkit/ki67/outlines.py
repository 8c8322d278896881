"""Nucleus outlines as polygons, the hook for the QuPath GeoJSON writer.

Coordinates follow QuPath: ``(x, y)`` in pixels with the origin at the top-left *corner* of
the image, so pixel ``(row, col)`` spans ``[col, col + 1] x [row, row + 1]`` and its centre
is ``(col + 0.5, row + 0.5)``. Each polygon is closed (its last point equals its first) and
is the 0.5 iso-line of the nucleus mask (``skimage.measure.find_contours``): it runs along
the outer pixel edges, midway between inside and outside pixel centres, and cuts each outer
corner diagonally (1/8 px² each), so its area is a little smaller than the pixel count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from segkit.ki67.classify import Classification
from segkit.ki67.measure import NucleusTable

__all__ = ["nucleus_features", "nucleus_outlines", "polygon_area"]

Polygon = list[tuple[float, float]]


def nucleus_outlines(
    labels: np.ndarray,
    ids: Sequence[int] | np.ndarray | None = None,
    *,
    origin: tuple[float, float] = (0.0, 0.0),
    scale: tuple[float, float] = (1.0, 1.0),
) -> dict[int, Polygon]:
    """``{id: closed polygon [(x, y), ...]}`` of the outer boundary of each nucleus.

    Parameters
    ----------
    labels : (M, N) ndarray of int
        Instance labels (0 background).
    ids : sequence of int, optional
        The nuclei to outline (default: all). An id absent from ``labels`` is left out.
    origin : (float, float)
        ``(row, col)`` of ``labels[0, 0]`` in a larger image (a band of a slide).
    scale : (float, float)
        ``(rows, cols)`` output pixels per label pixel: the points are
        ``((x + col) * scale[1], (y + row) * scale[0])`` (a slide's level 0 from labels at
        the model's scale).

    Notes
    -----
    A nucleus made of several pieces is outlined by its largest piece; holes are ignored.
    """
    from skimage.measure import find_contours

    labels = np.asarray(labels)
    wanted = np.unique(labels[labels > 0]) if ids is None else np.asarray(ids, dtype=np.int64)
    slices = ndimage.find_objects(labels)
    outlines: dict[int, Polygon] = {}
    for k in wanted.tolist():
        if k <= 0 or k > len(slices) or slices[k - 1] is None:
            continue
        rs, cs = slices[k - 1]
        crop = np.pad(labels[rs, cs] == k, 1).astype(np.float32)
        contours = find_contours(crop, 0.5)
        if not contours:
            continue
        best = max(contours, key=lambda c: abs(_shoelace(c[:, 1], c[:, 0])))
        xs = (best[:, 1] + (cs.start - 1 + 0.5) + origin[1]) * scale[1]
        ys = (best[:, 0] + (rs.start - 1 + 0.5) + origin[0]) * scale[0]
        points = list(zip(xs.tolist(), ys.tolist()))
        if points[0] != points[-1]:
            points.append(points[0])
        outlines[int(k)] = points
    return outlines


def _shoelace(x: np.ndarray, y: np.ndarray) -> float:
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def polygon_area(points: Polygon) -> float:
    """Area (px²) enclosed by a polygon of ``(x, y)`` points, whatever its orientation."""
    arr = np.asarray(points, dtype=np.float64)
    return abs(_shoelace(arr[:, 0], arr[:, 1]))


def nucleus_features(
    labels: np.ndarray, table: NucleusTable, classification: Classification
) -> list[dict[str, Any]]:
    """One plain dict per nucleus for a GeoJSON (or other) writer.

    Each dict has ``id``, ``class`` (``"Positive"`` / ``"Negative"``), ``bin`` (0-3),
    ``outline`` (closed ``[(x, y), ...]``, see the module docstring) and ``measurements``
    (``{column: float}`` from ``table``, without ``id``). Nuclei without an outline are
    left out.
    """
    outlines = nucleus_outlines(labels, table.id)
    columns = {k: v for k, v in table.columns().items() if k != "id"}
    features = []
    for row, k in enumerate(table.id.tolist()):
        if k not in outlines:
            continue
        features.append(
            {
                "id": int(k),
                "class": str(classification.classes[row]),
                "bin": int(classification.bins[row]),
                "outline": outlines[k],
                "measurements": {name: float(col[row]) for name, col in columns.items()},
            }
        )
    return features
