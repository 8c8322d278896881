"""Rasterisation rules: pixel centres, overlaps, holes, borders, degenerate polygons."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.annotations import (
    Annotation,
    AnnotationError,
    MultiPolygon,
    Points,
    Polygon,
    find_degenerate,
    rasterize_classes,
    rasterize_instances,
)


def square(x0: float, y0: float, x1: float, y1: float, **kw: object) -> Annotation:
    ring = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    return Annotation(Polygon(ring), **kw)  # type: ignore[arg-type]


def test_a_unit_square_on_pixel_corners_is_exactly_one_pixel() -> None:
    labels = rasterize_instances([square(2, 1, 3, 2)], (4, 5))
    assert labels.dtype == np.uint16
    assert np.argwhere(labels).tolist() == [[1, 2]]  # (row 1, col 2)


def test_a_pixel_belongs_when_its_centre_is_inside() -> None:
    # Covers x in [0.6, 2.4]: only the centre 1.5 is inside; 0.5 and 2.5 are outside.
    labels = rasterize_instances([square(0.6, 0.6, 2.4, 2.4)], (4, 4))
    assert np.argwhere(labels).tolist() == [[1, 1]]
    # A small square around a centre but not covering any other centre.
    assert rasterize_instances([square(1.4, 1.4, 1.6, 1.6)], (3, 3)).sum() == 1
    # Sub-pixel square between centres: no pixel, and its id is unused.
    assert rasterize_instances([square(1.6, 1.6, 1.9, 1.9)], (3, 3)).sum() == 0


def test_shared_edges_give_each_pixel_to_exactly_one_polygon() -> None:
    # Edges through pixel centres (x = 2.5): the centre on the edge goes to the right one.
    left, right = square(0.5, 0.5, 2.5, 3.5), square(2.5, 0.5, 4.5, 3.5)
    labels = rasterize_instances([left, right], (4, 5))
    assert (labels[:3, 0:2] == 1).all() and (labels[:3, 2:4] == 2).all()
    alone = rasterize_instances([left], (4, 5)) > 0
    assert alone.sum() + (rasterize_instances([right], (4, 5)) > 0).sum() == (labels > 0).sum()


def test_the_later_polygon_wins_an_overlap() -> None:
    first, second = square(0, 0, 4, 4), square(2, 2, 6, 6)
    labels = rasterize_instances([first, second], (6, 6))
    assert labels[3, 3] == 2 and labels[1, 1] == 1 and labels[5, 5] == 2
    assert rasterize_instances([second, first], (6, 6))[3, 3] == 2  # now `first` is label 2
    classes = rasterize_classes(
        [square(0, 0, 4, 4, class_name="a"), square(2, 2, 6, 6, class_name="b")],
        (6, 6),
        {"a": 1, "b": 7},
    )
    assert classes.dtype == np.uint8 and classes[3, 3] == 7 and classes[0, 0] == 1


def test_hole_pixels_are_not_painted() -> None:
    outer = np.array([[0, 0], [6, 0], [6, 6], [0, 6]], dtype=float)
    hole = np.array([[2, 2], [4, 2], [4, 4], [2, 4]], dtype=float)
    ring = Annotation(Polygon(outer, (hole,)))
    labels = rasterize_instances([ring], (6, 6))
    assert labels[2:4, 2:4].sum() == 0 and (labels > 0).sum() == 36 - 4
    # Under the hole, an earlier polygon stays visible.
    under = square(0, 0, 6, 6)
    assert (rasterize_instances([under, ring], (6, 6))[2:4, 2:4] == 1).all()


def test_polygons_on_or_across_the_border_are_clipped_and_kept() -> None:
    labels = rasterize_instances([square(-3, -3, 2, 2), square(3, 3, 10, 10)], (5, 5))
    assert (labels[:2, :2] == 1).all() and (labels[3:, 3:] == 2).all()
    assert rasterize_instances([square(10, 10, 12, 12)], (5, 5)).sum() == 0


def test_degenerate_polygons_are_skipped_and_counted() -> None:
    line = Annotation(Polygon(np.array([[0, 0], [3, 3], [1, 1]], dtype=float)))
    two = Annotation(Polygon(np.array([[0, 0], [3, 3], [0, 0], [3, 3]], dtype=float)))
    anns = [line, square(0, 0, 2, 2), two]
    assert find_degenerate(anns) == [0, 2]
    labels = rasterize_instances(anns, (4, 4))
    assert set(np.unique(labels)) == {0, 2}  # label k is annotations[k - 1]


def test_a_multipolygon_is_one_object() -> None:
    a = square(0, 0, 1, 1).geometry
    b = square(3, 3, 4, 4).geometry
    assert isinstance(a, Polygon) and isinstance(b, Polygon)
    labels = rasterize_instances([Annotation(MultiPolygon((a, b)))], (4, 4))
    assert labels[0, 0] == 1 and labels[3, 3] == 1 and labels.sum() == 2


def test_a_triangle_matches_the_centre_rule() -> None:
    tri = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    labels = rasterize_instances([Annotation(Polygon(tri))], (8, 8))
    rows, cols = np.mgrid[0:8, 0:8] + 0.5
    assert np.array_equal(labels > 0, rows + cols < 8)


def test_points_and_unknown_classes_are_refused() -> None:
    pts = Annotation(Points(np.array([[1.0, 1.0]])))
    with pytest.raises(AnnotationError, match="point"):
        rasterize_instances([pts], (4, 4))
    with pytest.raises(AnnotationError, match="not in class_index"):
        rasterize_classes([square(0, 0, 1, 1, class_name="x")], (4, 4), {"y": 1})
    with pytest.raises(ValueError, match="1..255"):
        rasterize_classes([], (4, 4), {"y": 0})
    with pytest.raises(ValueError, match="shape"):
        rasterize_instances([], (0, 4))
