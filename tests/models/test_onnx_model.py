"""An exported ``.onnx`` file predicts wherever segkit takes a model, as the Keras model does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import require_module

from segkit.cli import main
from segkit.evaluation import evaluate
from segkit.imaging import read_image, write_image
from segkit.inference import predict, predict_proba
from segkit.instances import predict_instance_map
from segkit.models import ModelInfo, build_unet, resolve_model, save_model
from segkit.models.export import export_onnx
from segkit.models.onnx_model import OnnxModel, load_onnx_model
from segkit.models.unet import downsampling_factor
from segkit.stain_normalisation import StainNormalisation, fit_stain_normalisation
from segkit.synthetic import make_synthetic_sample
from segkit.template import DatasetTemplate

EXTRA = "the onnx extra: pip install -e '.[onnx]'"
require_module("tf2onnx", EXTRA)
onnx = require_module("onnx", EXTRA)
require_module("onnxruntime", EXTRA)


def _darkness(channels: int):  # type: ignore[no-untyped-def]
    """Per pixel, a fixed function of darkness with wide margins between the classes."""
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    conv = keras.layers.Conv2D(channels, 3, padding="same")
    x = conv(x)
    a = np.array([12.0] if channels == 1 else [0.0, 20.0, 40.0][:channels])
    b = np.array([-6.0] if channels == 1 else [0.0, -3.0, -14.0][:channels])
    conv.set_weights([np.broadcast_to(-a / 27.0, (3, 3, 3, channels)).astype("float32"),
                      (a + b).astype("float32")])  # fmt: skip
    act = "sigmoid" if channels == 1 else "softmax"
    return keras.Model(inputs, keras.layers.Activation(act)(x))


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return make_synthetic_sample(150, 130, seed=7).image


@pytest.fixture(scope="module")
def exported(tmp_path_factory, image):  # type: ignore[no-untyped-def]
    """A binary model trained with Reinhard normalisation, as a model folder and as ONNX."""
    root = tmp_path_factory.mktemp("onnx")
    darker = [np.clip(make_synthetic_sample(96, 96, seed=s).image * 0.7, 0, 255) for s in (1, 2)]
    info = ModelInfo(
        (64, 64, 3), 2, ("background", "nucleus"), threshold=0.55,
        stain_normalisation=fit_stain_normalisation(darker, "reinhard"),
    )  # fmt: skip
    model = _darkness(1)
    folder = save_model(model, root / "model", info).parent
    export_onnx(folder, root / "net.onnx")
    return folder, root / "net.onnx", model, info


def test_the_onnx_file_predicts_what_the_keras_model_predicts(exported, image) -> None:
    folder, path, model, info = exported
    for tta in (False, True):
        want = predict_proba(folder, image, tile_size=64, tta=tta)
        got = predict_proba(path, image, tile_size=64, tta=tta)
        assert got.shape == image.shape[:2] and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=1e-5)
    mask = predict(path, image, tile_size=64)
    sure = np.abs(predict_proba(folder, image, tile_size=64) - info.threshold) > 1e-4
    np.testing.assert_array_equal(mask[sure], predict(folder, image, tile_size=64)[sure])
    # the stain normalisation stored in the file was applied: without it the mask differs
    unnormalised = info.replace(stain_normalisation=StainNormalisation())
    plain = predict((model, unnormalised), image, tile_size=64)
    assert (mask != plain).mean() > 0.01


def test_every_form_of_an_onnx_model_resolves_with_its_stored_info(exported) -> None:
    _, path, _, info = exported
    net, got = resolve_model(str(path))
    assert isinstance(net, OnnxModel) and got == info
    assert resolve_model(path)[1] == info
    assert resolve_model(net) == (net, info)
    assert resolve_model((net, None)) == (net, info)
    other = info.replace(threshold=0.9)
    assert resolve_model((net, other)) == (net, other)
    assert net.input_shape == (None, None, None, 3) and net.output_shape == (None, None, None, 1)
    assert net.session.get_providers()[-1] == "CPUExecutionProvider"
    cpu, _ = load_onnx_model(path, providers=["CPUExecutionProvider"], threads=1)
    assert cpu.session.get_providers() == ["CPUExecutionProvider"]


def test_a_unet_keeps_its_size_multiple_and_runs_its_batches(tmp_path) -> None:
    model = build_unet((None, None, 3), 3, depth=3, base_filters=4)
    export_onnx(model, tmp_path / "u.onnx")
    net, info = load_onnx_model(tmp_path / "u.onnx", threads=1)
    assert downsampling_factor(net) == downsampling_factor(model) == 8
    x = np.random.default_rng(0).integers(0, 256, (5, 24, 40, 3)).astype(np.uint8)
    got = net.predict(x, batch_size=2)
    assert got.shape == (5, 24, 40, 3)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)
    assert info.num_classes == 3


def test_instances_and_evaluation_take_the_onnx_file(tmp_path, image) -> None:
    info = ModelInfo((None, None, 3), 3, ("background", "nucleus", "boundary"), target="instances")
    model = _darkness(3)
    save_model(model, tmp_path / "m", info)
    export_onnx(tmp_path / "m", tmp_path / "i.onnx")
    want = predict_instance_map(tmp_path / "m", image, tile_size=64)
    got = predict_instance_map(tmp_path / "i.onnx", image, tile_size=64)
    assert got.count == want.count > 0
    np.testing.assert_array_equal(got.labels, want.labels)

    root = tmp_path / "ds"  # a prepared data set of one image
    binary = ModelInfo((None, None, 3), 2, ("background", "nucleus"))
    save_model(_darkness(1), tmp_path / "b", binary)
    export_onnx(tmp_path / "b", tmp_path / "b.onnx")
    write_image(root / "test" / "images" / "img0.png", image)
    write_image(root / "test" / "masks" / "img0.png", make_synthetic_sample(150, 130, seed=7).mask)
    pair = {"name": "img0", "split": "test", "group": "img0", "image": "test/images/img0.png",
            "mask": "test/masks/img0.png", "scale": [1.0, 1.0], "tile": None}  # fmt: skip
    manifest = {"format_version": 1, "segkit_version": "0", "created": "2026-12-01T00:00:00Z",
                "source": "/nowhere", "template": DatasetTemplate(height=150, width=130).to_dict(),
                "fingerprint": "f" * 64, "pairs": [pair], "skipped": []}  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest))
    scores = [
        evaluate(m, root, "test", output_dir=tmp_path / name, tile_size=64, instances=False)
        for name, m in (("keras", tmp_path / "b"), ("onnx", tmp_path / "b.onnx"))
    ]
    dice = [s.per_image[0]["dice"] for s in scores]
    assert dice[0] == pytest.approx(dice[1], abs=1e-6) and 0.0 < dice[0] < 1.0
    assert scores[1].summary["model"].endswith("b.onnx")


def test_cli_predicts_with_the_onnx_file(tmp_path, exported, image, capsys) -> None:
    folder, path, _, _ = exported
    write_image(tmp_path / "in" / "a.png", image)
    for model, out in ((folder, "k"), (path, "o")):
        assert (
            main(["predict", str(model), str(tmp_path / "in"), "--output", str(tmp_path / out)])
            == 0
        )
    assert "-> " in capsys.readouterr().out
    keras_mask, onnx_mask = (read_image(tmp_path / d / "a.png") for d in ("k", "o"))
    assert (keras_mask != onnx_mask).mean() < 1e-3  # pixels at the threshold itself may differ


def test_bad_onnx_files_get_one_line(tmp_path, exported, image, capsys, monkeypatch) -> None:
    import sys

    from onnx import TensorProto, helper

    write_image(tmp_path / "a.png", image)
    text = tmp_path / "text.onnx"
    text.write_text("not a graph")
    value = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 2, 2, 3])
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 2, 2, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["probabilities"])],
                              "g", [value], [out])  # fmt: skip
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(foreign))
    cases = {text: "not a model ONNX Runtime can run", foreign: "no segkit metadata",
             tmp_path / "missing.onnx": "missing.onnx: no such file"}  # fmt: skip
    for path, message in cases.items():
        code = main(["predict", str(path), str(tmp_path / "a.png"), "--output", str(tmp_path)])
        err = capsys.readouterr().err.strip()
        assert code == 1 and message in err, err
        assert len(err.splitlines()) == 1 and str(path.name) in err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    with pytest.raises(ValueError, match=r"needs onnxruntime: pip install 'segkit\[onnx\]'"):
        load_onnx_model(exported[1])


def test_an_onnx_file_cannot_be_fine_tuned(exported) -> None:
    from segkit.training.config import ConfigError
    from segkit.training.loop import start_from

    with pytest.raises(ConfigError, match="an ONNX file cannot be trained further"):
        start_from(_darkness(1), str(exported[1]))
