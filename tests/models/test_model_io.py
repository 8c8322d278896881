import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from segkit.losses import get_loss
from segkit.metrics import get_metrics
from segkit.models import ModelInfo, build_unet, load_model, save_model
from segkit.template import DatasetTemplate


@pytest.fixture(scope="module")
def compiled_model():
    model = build_unet((None, None, 3), 2, depth=2, base_filters=4, dropout=0.1)
    model.compile("adam", get_loss("bce_dice", 2), metrics=get_metrics(2))
    x = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3)).astype("float32")
    model.fit(x, (x[..., 0] > 128).astype("uint8"), epochs=1, verbose=0)
    return model


def _env():
    import os

    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}


def test_round_trip_keeps_predictions_and_info(tmp_path, compiled_model):
    info = ModelInfo((16, 16, 3), 2, ("background", "nucleus"), scale=(0.5, 0.5), fingerprint="ab")
    path = save_model(compiled_model, tmp_path / "m", info)
    assert path == tmp_path / "m" / "model.keras"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.keras"]
    x = np.random.default_rng(1).integers(0, 256, (1, 32, 16, 3)).astype("float32")
    for where in (tmp_path / "m", path):
        model, loaded = load_model(where)
        np.testing.assert_allclose(
            model.predict(x, verbose=0), compiled_model.predict(x, verbose=0), atol=1e-6
        )
        assert loaded == info


@pytest.mark.slow  # starts a fresh Python with TensorFlow
def test_saved_model_loads_with_plain_keras_in_a_fresh_process(tmp_path, compiled_model):
    path = save_model(compiled_model, tmp_path, ModelInfo((None, None, 3)))
    code = (
        "import sys, keras, numpy as np\n"
        "m = keras.models.load_model(sys.argv[1])\n"
        "assert not any(k.startswith('segkit') for k in sys.modules), 'segkit was imported'\n"
        "print(m.predict(np.zeros((1, 8, 8, 3), 'float32'), verbose=0).shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=_env()
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 8, 8, 1)" in out.stdout


@pytest.mark.slow  # starts a fresh Python with TensorFlow
def test_compiled_checkpoint_loads_once_segkit_losses_are_imported(tmp_path, compiled_model):
    path = tmp_path / "checkpoint.keras"
    compiled_model.save(path)
    code = (
        "import sys, keras\n"
        "import segkit.losses, segkit.metrics\n"
        "m = keras.models.load_model(sys.argv[1])\n"
        "print(type(m.loss).__name__, m.loss.num_classes)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=_env()
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "CrossEntropyDiceLoss 2" in out.stdout


def test_info_json_round_trip_and_validation():
    info = ModelInfo((64, 64, 1), 3, color_model="grayscale", threshold=0.4)
    assert info.class_names == ("background", "class1", "class2")
    assert ModelInfo.from_json(info.to_json()) == info
    assert json.loads(info.to_json())["input_shape"] == [64, 64, 1]
    with pytest.raises(ValueError, match="'scale'"):
        ModelInfo((64, 64, 3), scale=(0, 1))
    with pytest.raises(ValueError, match="'input_shape'.*color_model"):
        ModelInfo((64, 64, 3), color_model="grayscale")
    with pytest.raises(ValueError, match="'class_names'"):
        ModelInfo((64, 64, 3), 3, ("a", "b"))
    with pytest.raises(ValueError, match="'colour'"):
        ModelInfo.from_dict({"input_shape": [8, 8, 3], "colour": "rgb"})


def test_info_from_manifest_takes_template_and_median_scale():
    template = DatasetTemplate(height=32, width=32, color_model="grayscale")
    pairs = [SimpleNamespace(scale=s) for s in ((0.5, 0.25), (0.5, 0.25), (1.0, 1.0))]
    manifest = SimpleNamespace(
        template=template, fingerprint="f00", pairs=pairs, split=lambda part: tuple(pairs)
    )
    info = ModelInfo.from_manifest(manifest)
    assert info.input_shape == (32, 32, 1)
    assert info.scale == (0.5, 0.25)
    assert info.fingerprint == "f00"
    assert info.template["height"] == 32


def test_load_model_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model.keras"):
        load_model(tmp_path)


def test_model_info_mpp_gives_the_scale_of_an_image() -> None:
    info = ModelInfo((64, 64, 3), mpp=0.5)
    assert info.at_mpp(0.25).scale == (0.5, 0.5)
    assert info.at_mpp(None) is info and ModelInfo((64, 64, 3)).at_mpp(0.25).scale == (1.0, 1.0)
    assert ModelInfo.from_json(info.to_json()).mpp == 0.5
    with pytest.raises(ValueError, match="mpp"):
        ModelInfo((64, 64, 3), mpp=0)


def test_instance_model_info_from_an_instance_template() -> None:
    template = DatasetTemplate(
        target="instances",
        classes={"names": ["background", "negative", "positive"], "mapping": {"1": 1, "2": 2}},
    )
    info = ModelInfo.from_template(template)
    assert info.target == "instances" and info.num_classes == 4
    assert info.class_names == ("background", "negative", "positive", "boundary")
    with pytest.raises(ValueError, match="boundary"):
        ModelInfo((64, 64, 3), num_classes=3, target="instances")
