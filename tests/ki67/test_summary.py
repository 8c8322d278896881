"""Counts, Ki-67 index, Wilson interval and H-score, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.ki67.classify import Classification
from segkit.ki67.summary import summarize_ki67, wilson_interval


def _classes(bins):
    bins = np.asarray(bins, dtype=np.int8)
    return Classification(np.where(bins > 0, "Positive", "Negative").astype(object), bins)


def test_wilson_interval_textbook_examples():
    # 15 of 100: p = 0.15, z = 1.96 -> [0.0931, 0.2328] (often printed 9.3 % to 23.3 %)
    low, high = wilson_interval(15, 100)
    assert 100 * low == pytest.approx(9.31, abs=0.01)
    assert 100 * high == pytest.approx(23.28, abs=0.01)
    # Newcombe (1998), Stat Med 17:857, method 3: 81 of 263 -> 0.2553 to 0.3662
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_summary_by_hand():
    # 10 cells: 6 negative, 2 at 1+, 1 at 2+, 1 at 3+
    s = summarize_ki67(_classes([0] * 6 + [1, 1, 2, 3]), min_cells=5)
    assert (s.positive, s.negative, s.total) == (4, 6, 10)
    assert s.ki67_index == pytest.approx(40.0)
    assert (s.bin_1plus, s.bin_2plus, s.bin_3plus) == (2, 1, 1)
    assert s.h_score == pytest.approx(1 * 20 + 2 * 10 + 3 * 10)  # 70
    low, high = wilson_interval(4, 10)
    assert (s.ki67_ci_low, s.ki67_ci_high) == pytest.approx((100 * low, 100 * high))
    assert s.warning == ""


def test_fewer_than_500_cells_warn():
    s = summarize_ki67(_classes([1] * 100 + [0] * 399))
    assert s.total == 499 and "fewer than 500" in s.warning
    assert summarize_ki67(_classes([1] * 100 + [0] * 400)).warning == ""


def test_no_cells_is_zero_with_a_warning_never_nan():
    s = summarize_ki67(_classes([]))
    assert (s.positive, s.negative, s.total) == (0, 0, 0)
    assert s.ki67_index == 0.0 and s.h_score == 0.0
    assert (s.ki67_ci_low, s.ki67_ci_high) == (0.0, 100.0)
    assert "no tumour cells" in s.warning
    assert not any(isinstance(v, float) and np.isnan(v) for v in s.to_dict().values())


def test_all_positive_at_3plus_is_h_score_300():
    s = summarize_ki67(_classes([3] * 600))
    assert s.ki67_index == 100.0 and s.h_score == pytest.approx(300.0)
