"""Boundary and distance targets from instance label images."""

from __future__ import annotations

import time

import numpy as np
import pytest

from segkit.instances import (
    BACKGROUND,
    BOUNDARY,
    INTERIOR,
    make_boundary_target,
    make_distance_target,
)


def _touching_grid(size: int = 512, step: int = 29, seed: int = 0) -> np.ndarray:
    """Round nuclei on a grid, many touching (about 300 on 512x512)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((size, size), dtype=np.int32)
    rr, cc = np.ogrid[:size, :size]
    k = 0
    for y in range(step // 2, size, step):
        for x in range(step // 2, size, step):
            k += 1
            r = rng.uniform(9, 16)
            out[((rr - y) ** 2 + (cc - x) ** 2 < r * r) & (out == 0)] = k
    return out


# two touching 5x3 and 5x4 nuclei
PAIR = np.zeros((7, 9), dtype=int)
PAIR[1:6, 1:4] = 1
PAIR[1:6, 4:8] = 2


def test_boundary_target_by_hand():
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0, 0, 0],
            [0, 2, 2, 2, 2, 2, 2, 2, 0],
            [0, 2, 1, 2, 2, 1, 1, 2, 0],
            [0, 2, 1, 2, 2, 1, 1, 2, 0],
            [0, 2, 1, 2, 2, 1, 1, 2, 0],
            [0, 2, 2, 2, 2, 2, 2, 2, 0],
            [0, 0, 0, 0, 0, 0, 0, 0, 0],
        ]
    )
    target = make_boundary_target(PAIR, width=1)
    assert target.dtype == np.uint8
    np.testing.assert_array_equal(target, expected)


def test_touching_nuclei_interiors_never_touch():
    labels = _touching_grid(128)
    for width in (1, 2, 3):
        target = make_boundary_target(labels, width=width)
        interior = np.where(target == INTERIOR, labels, 0)
        # no interior pixel has an interior pixel of another nucleus among its 8 neighbours
        padded = np.pad(interior, 1)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = padded[1 + dy : 129 + dy, 1 + dx : 129 + dx]
                clash = (interior > 0) & (shifted > 0) & (shifted != interior)
                assert not clash.any()
        assert ((target == BACKGROUND) == (labels == 0)).all()


def test_boundary_width_is_a_band_of_that_many_pixels():
    labels = np.zeros((20, 20), dtype=np.uint16)
    labels[2:18, 2:18] = 5
    target = make_boundary_target(labels, width=3)
    assert (target[2:18, 2:18][3:-3, 3:-3] == INTERIOR).all()
    assert (target[2:5, 2:18] == BOUNDARY).all()
    assert target[5, 9] == INTERIOR


def test_the_image_border_is_not_a_boundary():
    labels = np.ones((6, 6), dtype=np.uint8)
    assert (make_boundary_target(labels) == INTERIOR).all()


def test_distance_target_by_hand():
    dist = make_distance_target(PAIR, normalize=False)
    assert dist.dtype == np.float32
    # nucleus 1 (3 wide): its middle column is 2 pixels from outside; nucleus 2 (4 wide) too
    np.testing.assert_array_equal(dist[3], [0, 1, 2, 1, 1, 2, 2, 1, 0])
    normalized = make_distance_target(PAIR)
    assert normalized.max() == 1.0
    for k in (1, 2):
        assert normalized[np.equal(PAIR, k)].max() == 1.0
    assert (normalized[PAIR == 0] == 0).all()


def test_distance_target_grows_towards_the_image_border():
    labels = np.zeros((5, 8), dtype=int)
    labels[:, :4] = 1  # cut by the left, top and bottom edges
    dist = make_distance_target(labels, normalize=False)
    np.testing.assert_array_equal(dist[2, :5], [4, 3, 2, 1, 0])


def test_bad_inputs():
    with pytest.raises(ValueError, match="integer ids"):
        make_boundary_target(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="width"):
        make_boundary_target(np.zeros((3, 3), int), width=0)
    with pytest.raises(ValueError, match=r"\(M, N\)"):
        make_distance_target(np.zeros((3, 3, 3), int))


def test_targets_of_a_512_tile_take_milliseconds():
    labels = _touching_grid()
    assert labels.max() >= 300
    for make, budget in ((make_boundary_target, 0.05), (make_distance_target, 0.15)):
        make(labels)
        start = time.perf_counter()
        make(labels)
        assert time.perf_counter() - start < budget
