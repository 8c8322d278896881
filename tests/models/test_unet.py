import numpy as np
import pytest

from segkit.models import build_unet


def test_binary_model_has_one_sigmoid_channel_of_input_size():
    model = build_unet((32, 48, 3), 2, depth=2, base_filters=4)
    x = np.random.default_rng(0).integers(0, 256, (2, 32, 48, 3)).astype("float32")
    y = model.predict(x, verbose=0)
    assert y.shape == (2, 32, 48, 1)
    assert y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1))


def test_multiclass_model_outputs_softmax_over_classes():
    model = build_unet((None, None, 1), 4, depth=2, base_filters=4, upsampling="bilinear")
    x = np.full((1, 16, 24, 1), 200.0, dtype="float32")
    y = model.predict(x, verbose=0)
    assert y.shape == (1, 16, 24, 4)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)


def test_first_layer_rescales_raw_pixels():
    model = build_unet((16, 16, 1), 2, depth=2, base_filters=4)
    assert model.layers[1].name == "rescale"
    out = model.layers[1](np.full((1, 16, 16, 1), 255.0, dtype="float32"))
    np.testing.assert_allclose(np.asarray(out), 1.0, rtol=1e-6)


def test_classic_settings_have_about_31_million_parameters():
    # Ronneberger et al. 2015: 4 poolings (5 levels), 64 base filters, no batch norm.
    model = build_unet((None, None, 1), 2, depth=4, base_filters=64, batch_norm=False)
    assert 30_900_000 < model.count_params() < 31_100_000
    # Halving the width divides the parameter count by about 4.
    small = build_unet((None, None, 1), 2, depth=4, base_filters=32, batch_norm=False)
    assert 3.9 < model.count_params() / small.count_params() < 4.1


def test_dropout_and_batch_norm_layers_follow_the_flags():
    with_all = build_unet((16, 16, 1), 2, depth=2, base_filters=4, dropout=0.3)
    names = [layer.name for layer in with_all.layers]
    assert "bottleneck_dropout" in names and "enc0_bn1" in names
    plain = build_unet((16, 16, 1), 2, depth=2, base_filters=4, batch_norm=False)
    assert not any("dropout" in n or "_bn" in n for n in (layer.name for layer in plain.layers))


def test_size_not_divisible_names_the_size_and_nearest_valid_sizes():
    with pytest.raises(ValueError, match=r"height 100 .*2\*\*depth = 16.* 96 or 112"):
        build_unet((100, 96, 3), 2, depth=4)
    with pytest.raises(ValueError, match=r"width 30 .* 28 or 32"):
        build_unet((32, 30, 3), 2, depth=2)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"num_classes": 1}, "num_classes"),
        ({"depth": 0}, "depth"),
        ({"base_filters": 0}, "base_filters"),
        ({"dropout": 1.0}, "dropout"),
        ({"upsampling": "nearest"}, "upsampling"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, word):
    args = {"input_shape": (16, 16, 1), "num_classes": 2, "depth": 2} | kwargs
    with pytest.raises(ValueError, match=word):
        build_unet(**args)
