"""The hot spot rule and the local-index heat map (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.ki67.hotspot import HOTSPOT_COLUMNS, CellGrid, draw_heatmap, find_hotspot


def _grid(total: np.ndarray, positive: np.ndarray, mpp: float = 0.5) -> CellGrid:
    grid = CellGrid((total.shape[1] * 100, total.shape[0] * 100), mpp)  # 50 um = 100 px bins
    grid.total[...] = total
    grid.positive[...] = positive
    return grid


def test_the_smallest_square_with_enough_cells_and_the_highest_index_wins() -> None:
    total = np.full((6, 8), 150)
    positive = np.full((6, 8), 15)  # 10 % everywhere...
    positive[2:4, 5:7] = 120  # ...80 % in a 2 x 2 block of 600 cells
    hot = find_hotspot(_grid(total, positive), min_cells=500)
    assert hot is not None
    assert (hot.n, hot.row, hot.col, hot.cells) == (2, 2, 5, 600)  # one bin is too few
    assert hot.ki67_index == pytest.approx(80.0)
    assert hot.size_um == pytest.approx(100.0)
    assert (hot.x_um, hot.y_um) == pytest.approx((300.0, 150.0))  # the square's centre
    assert list(hot.to_row()) == list(HOTSPOT_COLUMNS)


def test_the_window_grows_until_it_holds_enough_cells() -> None:
    total = np.full((5, 5), 30)
    positive = np.zeros((5, 5), dtype=int)
    positive[4, 4] = 30
    hot = find_hotspot(_grid(total, positive), min_cells=500)
    assert hot is not None and hot.n == 5 and hot.cells == 750  # the whole slide, 25 bins
    assert find_hotspot(_grid(total, positive), min_cells=751) is None


def test_counting_and_the_heatmap() -> None:
    grid = CellGrid((1000, 600), 0.5)  # 100-px bins: 6 x 10
    assert grid.total.shape == (6, 10)
    x = np.array([10.0, 20.0, 150.0, 999.0])
    y = np.array([5.0, 5.0, 5.0, 599.0])
    grid.add(x, y, np.array([True, False, True, True]))
    assert grid.total[0, 0] == 2 and grid.positive[0, 0] == 1 and grid.total[5, 9] == 1
    index = grid.local_index(min_cells=2, span=1)
    assert index[0, 0] == 50.0 and np.isnan(index[0, 1])
    around = grid.local_index(min_cells=3, span=3)  # 3 cells in the 3 x 3 around (0, 0)
    assert around[0, 0] == pytest.approx(200 / 3) and around[0, 1] == around[0, 0]
    assert np.isnan(around[1, 1]) and np.isnan(
        around[0, 2]
    )  # no cells of its own; too few and np.isnan(around[5, 9])
    with pytest.raises(ValueError, match="odd"):
        grid.local_index(span=2)
    thumb = np.full((60, 100, 3), 200, np.uint8)
    out = draw_heatmap(thumb, 10.0, grid, min_cells=2, span=1)
    assert out.shape == thumb.shape and out.dtype == np.uint8
    assert not np.array_equal(out[2, 2], out[2, 50])  # a bin with cells is coloured
    np.testing.assert_array_equal(out[2, 50], out[30, 50])  # the others are plain grey
    with pytest.raises(ValueError, match="bin_um"):
        CellGrid((10, 10), 0.5, bin_um=0)
