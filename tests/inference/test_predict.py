import numpy as np
import pytest
from scipy import ndimage

from segkit.imaging import read_image
from segkit.inference import predict, predict_proba, prepare_image, save_mask, save_overlay
from segkit.models import ModelInfo, build_unet


@pytest.fixture(scope="module")
def unet():
    import keras

    keras.utils.set_random_seed(0)
    return build_unet((None, None, 3), 2, depth=2, base_filters=8)


@pytest.fixture(scope="module")
def pointwise():
    """A model whose probability is the pixel value / 255 (no spatial context)."""
    import keras

    inputs = keras.Input((None, None, 1))
    return keras.Model(inputs, keras.layers.Rescaling(1 / 255)(inputs))


def _smooth_image(shape, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, shape).astype(np.float32)
    return ndimage.uniform_filter(img, (5, 5, 1)).astype(np.uint8)


def test_tiled_prediction_matches_direct_prediction(unet):
    image = _smooth_image((128, 96, 3))
    direct = unet.predict(image[None].astype("float32"), verbose=0)[0, ..., 0]
    tiled = predict_proba(unet, image, tile_size=64, overlap=0.5, batch_size=3)
    assert tiled.shape == (128, 96)
    assert np.abs(tiled - direct).mean() < 0.1 * direct.std()
    cut = np.median(direct)
    assert ((tiled >= cut) == (direct >= cut)).mean() > 0.97
    whole = predict_proba(unet, image, tile_size=(128, 96))
    np.testing.assert_allclose(whole, direct, atol=1e-5)


def test_small_and_odd_sized_images_are_padded_and_cropped_back(unet):
    image = _smooth_image((37, 50, 3))
    mask = predict(unet, image, tile_size=64)
    assert mask.shape == (37, 50) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1}


def test_tile_size_must_divide_by_the_downsampling_factor(unet):
    with pytest.raises(ValueError, match="tile height 30 .*28 or 32"):
        predict(unet, _smooth_image((64, 64, 3)), tile_size=30)


def test_scale_and_colour_model_of_the_info_are_applied(pointwise):
    rows, cols = np.mgrid[0:120, 0:80]
    gray = (rows + cols).astype(np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    info = ModelInfo((16, 16, 1), color_model="grayscale", scale=(0.5, 0.25))
    assert prepare_image(rgb, info).shape == (60, 20, 1)
    proba = predict_proba(pointwise, rgb, info=info, overlap=0.5)
    assert proba.shape == (120, 80)
    assert np.abs(proba - gray / 255.0).mean() < 0.01
    mask = predict(pointwise, rgb, info=info.replace(threshold=0.4))
    # the mask follows the threshold up to the resampling of the border line
    assert mask.shape == gray.shape
    assert (mask == (gray >= 0.4 * 255)).mean() > 0.98


def test_tta_averages_four_flips(pointwise):
    image = _smooth_image((40, 40, 1))
    calls = []
    original = pointwise.predict_on_batch

    def counting(batch):
        calls.append(batch.shape)
        return original(batch)

    pointwise.predict_on_batch = counting
    try:
        out = predict_proba(pointwise, image, tile_size=40, tta=True, batch_size=1)
    finally:
        del pointwise.predict_on_batch
    assert calls == [(4, 40, 40, 1)]  # the four views in one batch
    np.testing.assert_allclose(out, image[..., 0] / 255.0, atol=1e-5)


def test_tta_undoes_each_flip_of_a_model_that_is_not_symmetric():
    import keras

    keras.utils.set_random_seed(3)
    model = build_unet((None, None, 3), 2, depth=2, base_filters=4)  # random: no symmetry
    image = np.random.default_rng(3).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    plain = predict_proba(model, image, tile_size=32)
    views = [plain] + [
        np.flip(predict_proba(model, np.ascontiguousarray(np.flip(image, a)), tile_size=32), a)
        for a in ((0,), (1,), (0, 1))
    ]
    assert np.abs(views[1] - plain).max() > 1e-3, "the flips must matter for this test"
    out = predict_proba(model, image, tile_size=32, tta=True)
    np.testing.assert_allclose(out, np.mean(views, axis=0), atol=1e-5)


def test_multiclass_prediction_is_the_argmax():
    model = build_unet((None, None, 1), 3, depth=1, base_filters=4)
    image = _smooth_image((32, 32, 1))
    proba = predict_proba(model, image, tile_size=16)
    assert proba.shape == (32, 32, 3)
    np.testing.assert_allclose(proba.sum(-1), 1.0, atol=1e-4)
    np.testing.assert_array_equal(predict(model, image, tile_size=16), proba.argmax(-1))


def test_masks_are_written_in_the_template_encoding(tmp_path):
    mask = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    binary = read_image(save_mask(tmp_path / "b.png", mask, 2))
    np.testing.assert_array_equal(binary, mask * 255)
    multi = read_image(save_mask(tmp_path / "m.png", mask * 2, 3))
    np.testing.assert_array_equal(multi, mask * 2)
    with pytest.raises(ValueError, match="lossless"):
        save_mask(tmp_path / "m.jpg", mask, 2)


def test_overlays_outline_objects_by_default_and_fill_on_request(tmp_path):
    image = np.full((7, 7), 100, dtype=np.uint8)
    mask = np.zeros((7, 7), dtype=np.uint8)
    mask[1:6, 1:6] = 1
    outlined = read_image(save_overlay(tmp_path / "o.png", image, mask))
    assert outlined.shape == (7, 7, 3)
    assert (outlined[0, 0] == 100).all()  # background untouched
    assert (outlined[3, 3] == 100).all()  # the stain inside an object stays visible
    assert outlined[1, 3, 0] > outlined[1, 3, 1]  # its outline is drawn in red
    filled = read_image(save_overlay(tmp_path / "f.png", image, mask, contours=False))
    assert (filled[0, 0] == 100).all()
    assert filled[3, 3, 0] > filled[3, 3, 1]  # the whole object is tinted
    assert (filled[1, 3] == filled[3, 3]).all()
