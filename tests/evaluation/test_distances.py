"""Boundary distances (HD95, Hausdorff, ASSD): hand-computed cases, a brute-force reference and
the empty rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segkit.evaluation import boundary_distances, summarize
from segkit.evaluation.distances import surface


def _brute(t, p, spacing=1.0):
    """Every surface pixel to every other: the definition, without a distance transform."""
    a = np.argwhere(surface(t)) * spacing
    b = np.argwhere(surface(p)) * spacing
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    ab, ba = d.min(1), d.min(0)
    return {
        "hd95": max(np.percentile(ab, 95), np.percentile(ba, 95)),
        "hausdorff": max(ab.max(), ba.max()),
        "assd": np.concatenate([ab, ba]).mean(),
    }


def test_two_points_four_pixels_apart():
    t = np.zeros((12, 12), np.uint8)
    p = t.copy()
    t[5, 5] = 1
    p[5, 9] = 1
    assert boundary_distances(t, p) == {"hd95": 4.0, "hausdorff": 4.0, "assd": 4.0}
    assert boundary_distances(t, p, spacing=0.5)["hd95"] == 2.0  # µm at 0.5 µm/px


def test_identical_masks_are_zero_and_a_far_blob_shows_in_the_maximum():
    t = np.zeros((40, 40), np.uint8)
    t[10:20, 10:20] = 1
    assert boundary_distances(t, t) == {"hd95": 0.0, "hausdorff": 0.0, "assd": 0.0}
    p = t.copy()
    p[35, 35] = 1  # one stray pixel far away
    d = boundary_distances(t, p)
    assert d["hausdorff"] == pytest.approx(math.hypot(35 - 19, 35 - 19))
    assert d["hd95"] < 1.0  # 1 of 37 surface pixels: under the 95th percentile
    assert 0 < d["assd"] < 1.0


def test_surface_is_the_four_connected_rim_and_the_image_edge_counts():
    m = np.zeros((5, 5), np.uint8)
    m[1:4, 1:4] = 1
    assert surface(m).sum() == 8 and not surface(m)[2, 2]
    assert surface(np.ones((3, 3), np.uint8)).sum() == 8  # the edge is background


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_the_brute_force_definition(seed):
    rng = np.random.default_rng(seed)
    t = np.zeros((48, 40), np.uint8)
    p = t.copy()
    for mask in (t, p):
        for _ in range(3):
            r, c, h, w = rng.integers(0, 36), rng.integers(0, 30), *rng.integers(3, 12, 2)
            mask[r : r + h, c : c + w] = rng.integers(1, 3)  # any non-zero class is foreground
    for spacing in (1.0, 0.25):
        got = boundary_distances(t, p, spacing=spacing)
        want = _brute(t, p, spacing)
        assert got == pytest.approx(want)


def test_empty_rule_and_summary_average_where_defined():
    empty = np.zeros((8, 8), np.uint8)
    full = empty.copy()
    full[2:5, 2:5] = 1
    assert boundary_distances(empty, empty) == {"hd95": 0.0, "hausdorff": 0.0, "assd": 0.0}
    for t, p in ((empty, full), (full, empty)):
        assert all(math.isnan(v) for v in boundary_distances(t, p).values())
    rows = [{"dice": 1.0, **boundary_distances(full, full)},
            {"dice": 0.0, **boundary_distances(empty, full)},
            {"dice": 0.5, "hd95": 4.0, "hausdorff": 6.0, "assd": 2.0}]  # fmt: skip
    s = summarize(rows)
    assert s["mean"]["hd95"] == 2.0 and s["mean"]["assd"] == 1.0
    assert s["distances_undefined"] == 1
    assert s["mean"]["dice"] == 0.5


def test_shapes_must_match():
    with pytest.raises(ValueError, match="shapes differ"):
        boundary_distances(np.zeros((4, 4)), np.zeros((4, 5)))
