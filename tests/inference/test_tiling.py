import tracemalloc

import numpy as np
import pytest

from segkit.inference.tiling import gaussian_importance, sliding_window, tile_grid, tile_starts


def test_gaussian_importance_peaks_at_the_centre_and_keeps_a_floor():
    w = gaussian_importance((33, 20))
    assert w.shape == (33, 20) and w.dtype == np.float32
    assert w[16, 9] == pytest.approx(w.max(), rel=1e-3) and w.max() == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_allclose(w, w[::-1, ::-1], rtol=1e-5)
    assert w.min() >= 1e-4
    assert w[16, 0] < 0.01 * w[16, 9]


@pytest.mark.parametrize(
    ("size", "tile", "overlap"), [(100, 32, 0.25), (64, 64, 0.5), (65, 64, 0.0)]
)
def test_tile_starts_cover_the_axis_with_at_least_the_overlap(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    assert starts[0] == 0 and starts[-1] == size - tile
    steps = np.diff(starts)
    assert np.all(steps > 0)
    assert np.all(steps <= max(1, round(tile * (1 - overlap))))


def test_tile_starts_rejects_a_tile_larger_than_the_image():
    with pytest.raises(ValueError, match="smaller than the tile"):
        tile_starts(10, 16, 0.25)


def test_blending_a_pointwise_predictor_reproduces_it_exactly():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (100, 77, 2)).astype(np.uint8)
    seen = []

    def predict_batch(batch):
        seen.append(batch.shape)
        return np.stack([batch[..., 0] / 255.0, batch[..., 1] / 255.0], axis=-1)

    out = sliding_window(predict_batch, image, (32, 16), overlap=0.3, batch_size=5)
    np.testing.assert_allclose(out, image / 255.0, atol=1e-5)
    assert set(seen) == {(5, 32, 16, 2)}  # the last batch is padded to one shape
    tiles = len(tile_grid((100, 77), (32, 16), 0.3))
    assert len(seen) == -(-tiles // 5)


def test_memory_stays_bounded_by_the_output_not_the_tiles():
    image = np.zeros((1024, 1024, 1), dtype=np.uint8)
    image[::7] = 200
    tiles = len(tile_grid((1024, 1024), (32, 32), 0.5))
    all_tiles_bytes = tiles * 32 * 32 * 4
    output_bytes = 1024 * 1024 * 4
    assert all_tiles_bytes > 3 * output_bytes
    tracemalloc.start()
    try:
        out = sliding_window(lambda b: b / 255.0, image, (32, 32), overlap=0.5, batch_size=16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (1024, 1024, 1)
    # the sum and the weight map (2 x output) plus one batch and small temporaries
    assert peak < 2.5 * output_bytes < all_tiles_bytes


def test_tiles_keep_the_image_dtype_and_the_blend_does_not_depend_on_it():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (70, 90, 3)).astype(np.uint8)
    dtypes = set()

    def predict_batch(batch):
        dtypes.add(batch.dtype)
        ramp = np.linspace(0, 1, 32)[None, :, None, None]  # tile borders differ from centres
        return batch[..., :1].astype(np.float32) / 255.0 * ramp

    as_uint8 = sliding_window(predict_batch, image, (32, 32), overlap=0.25, batch_size=3)
    as_float = sliding_window(
        predict_batch, image.astype(np.float32), (32, 32), overlap=0.25, batch_size=3
    )
    assert dtypes == {np.dtype(np.uint8), np.dtype(np.float32)}
    np.testing.assert_array_equal(as_uint8, as_float)
