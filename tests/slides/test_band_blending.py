"""BandBlender: the sums of sliding_window, one band of rows at a time, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.imaging import resize_mask
from segkit.inference.tiling import gaussian_importance, sliding_window, tile_starts
from segkit.slides.bands import BandBlender, nearest_index


def _fake_model(batch: np.ndarray) -> np.ndarray:
    """Three channels that depend on the position inside the tile (tile borders differ)."""
    th, tw = batch.shape[1:3]
    ramp = np.linspace(0.0, 1.0, th * tw, dtype=np.float32).reshape(1, th, tw, 1)
    bias = np.broadcast_to(ramp + 0.1, batch[..., :1].shape)
    return np.concatenate([batch[..., :1] / 255.0, ramp * batch[..., 1:2] / 255.0, bias], -1)


@pytest.mark.parametrize(
    ("shape", "tile", "overlap"), [((300, 410), (64, 96), 0.25), ((200, 200), (64, 64), 0.6)]
)
def test_bands_give_the_whole_image_sums(shape, tile, overlap) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(*shape, 3)).astype(np.float32)
    expected = sliding_window(_fake_model, image, tile, overlap=overlap, batch_size=3)

    rows, cols = tile_starts(shape[0], tile[0], overlap), tile_starts(shape[1], tile[1], overlap)
    blender = BandBlender(shape[1], gaussian_importance(tile), 3, top=rows[0])
    got = []
    for i, r in enumerate(rows):
        tiles = np.stack([image[r : r + tile[0], c : c + tile[1]] for c in cols])
        for c, pred in zip(cols, _fake_model(tiles)):
            blender.add(r, c, pred)
        proba, covered = blender.advance(rows[i + 1] if i + 1 < len(rows) else shape[0])
        assert covered.all()
        got.append(proba)
    np.testing.assert_array_equal(np.concatenate(got), expected)
    assert blender.peak_nbytes == tile[0] * shape[1] * (3 + 1) * 4  # every column is tissue
    assert blender.nbytes == 0, "no window is open after the last band"


def test_rows_no_window_covered_are_zero_and_flagged() -> None:
    blender = BandBlender(20, gaussian_importance((8, 8)), 1)
    blender.add(0, 4, np.ones((8, 8, 1), np.float32))
    proba, covered = blender.advance(6)
    assert covered[:, 4:12].all() and not covered[:, :4].any() and not covered[:, 12:].any()
    assert (proba[covered] == 1).all() and (proba[~covered] == 0).all()
    with pytest.raises(ValueError, match="does not start the band"):
        blender.add(0, 0, np.ones((8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="expected 1..8 rows"):
        blender.advance(6)


@pytest.mark.parametrize(("n_out", "n_in"), [(100, 37), (37, 100), (64, 64), (1, 5)])
def test_nearest_index_is_resize_mask(n_out, n_in) -> None:
    labels = np.arange(n_in, dtype=np.int32)[None, :]
    assert (resize_mask(labels, (1, n_out))[0] == labels[0, nearest_index(n_out, n_in)]).all()
