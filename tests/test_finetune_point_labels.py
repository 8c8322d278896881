"""``point_labels`` of the nucleus model's second stage: instance labels from points + a model."""

from __future__ import annotations

import sys

import numpy as np
from support import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from finetune_nuclei_model import point_labels  # noqa: E402


def _disc(shape, cx, cy, r):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_points_split_share_and_fill():
    labels = np.zeros((100, 140), dtype=np.int32)
    labels[_disc(labels.shape, 30, 50, 12)] = 1  # one nucleus, two points in it
    labels[_disc(labels.shape, 100, 20, 10)] = 2  # a nucleus no point names (stroma)
    labels[_disc(labels.shape, 100, 80, 2)] = 3  # a fragment under a point: redrawn
    points = np.array([[24.0, 50.0], [37.0, 50.0], [70.0, 50.0], [100.0, 80.0]])
    out, owner = point_labels(labels, points, disc=8.0)
    assert sorted(owner.values()) == [0, 1, 2, 3]
    by_point = {k: lab for lab, k in owner.items()}
    # the shared nucleus is split at the midpoint between its points, nothing lost
    left, right = out == by_point[0], out == by_point[1]
    assert (left | right).sum() == (labels == 1).sum()
    assert left[50, 26] and right[50, 35] and not left[50, 32]
    # an unheld point gets a disc of radius 8 around it, where no nucleus was
    new = out == by_point[2]
    assert new[50, 70] and abs(new.sum() - np.pi * 64) < 0.15 * np.pi * 64
    # the fragment under the last point became a whole disc; the unnamed nucleus is kept
    whole = out == by_point[3]
    assert whole.sum() > 150 and whole[80, 100] and whole[80, 106]
    assert (out == 2).sum() == (labels == 2).sum() and 2 not in owner
    assert labels.max() == 3  # the input is not changed


def test_a_point_near_a_nucleus_joins_it():
    labels = np.zeros((60, 60), dtype=np.int32)
    labels[_disc(labels.shape, 30, 30, 10)] = 5
    out, owner = point_labels(labels, np.array([[44.0, 30.0]]), disc=8.0)  # 4 px outside
    assert owner == {5: 0} and np.array_equal(out, labels)
