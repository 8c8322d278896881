"""Per-nucleus measurements."""

from __future__ import annotations

import time

import numpy as np
import pytest

from segkit.ki67.measure import measure_nuclei


def test_measurements_of_known_discs(discs):
    image, labels = discs([(20, 30, 6, 0.4, 0.1), (50, 50, 9, 0.2, 0.6)], ids=[7, 3])
    t = measure_nuclei(image, labels, mpp=0.5)
    assert t.id.tolist() == [3, 7]  # increasing ids, non-contiguous kept
    assert t.x.tolist() == pytest.approx([50.0, 30.0])  # x = column
    assert t.y.tolist() == pytest.approx([50.0, 20.0])  # y = row
    assert t.area.tolist() == [np.count_nonzero(labels == 3), np.count_nonzero(labels == 7)]
    assert t.area_um2 == pytest.approx(t.area * 0.25)
    assert t.dab_od_mean == pytest.approx([0.6, 0.1], abs=0.02)
    assert t.hematoxylin_od_mean == pytest.approx([0.2, 0.4], abs=0.02)
    assert np.all(t.dab_od_max >= t.dab_od_mean)
    assert t.dab_od_max == pytest.approx([0.6, 0.1], abs=0.03)
    assert list(t.columns())[:3] == ["id", "x", "y"]
    assert len(t) == 2


def test_no_nuclei_and_no_mpp():
    image = np.full((10, 10, 3), 255, np.uint8)
    t = measure_nuclei(image, np.zeros((10, 10), np.int32))
    assert len(t) == 0 and t.dab_od_mean.shape == (0,)
    t = measure_nuclei(image, np.ones((10, 10), np.int32))
    assert np.isnan(t.area_um2[0]) and t.area[0] == 100


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros((9, 10), np.int32), "do not match"),
        (np.zeros((10, 10), np.float32), "integer"),
        (np.full((10, 10), -1, np.int32), ">= 0"),
    ],
)
def test_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        measure_nuclei(np.zeros((10, 10, 3), np.uint8), labels)


def test_thousand_nuclei_in_a_megapixel_image_are_fast():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    labels = np.zeros((1000, 1000), np.int32)
    rows, cols = np.mgrid[:1000, :1000]
    centres = [(r, c) for r in range(16, 1000, 31) for c in range(16, 1000, 31)][:1000]
    for k, (r, c) in enumerate(centres, start=1):
        labels[(rows - r) ** 2 + (cols - c) ** 2 <= 100] = k
    measure_nuclei(image, labels)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        t = measure_nuclei(image, labels)
        times.append(time.perf_counter() - start)
    assert len(t) == 1000
    assert min(times) < 0.2, f"measure_nuclei took {min(times):.3f} s for 1,000 nuclei"
