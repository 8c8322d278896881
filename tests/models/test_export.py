"""``segkit export``: a model as an ONNX file that ONNX Runtime runs like the Keras model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import require_module

from segkit.cli import main
from segkit.models import ModelInfo, build_unet, save_model
from segkit.models.export import export_onnx, read_onnx_info

EXTRA = "the onnx extra: pip install -e '.[onnx]'"
require_module("tf2onnx", EXTRA)
require_module("onnx", EXTRA)
ort = require_module("onnxruntime", EXTRA)


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _image(shape, seed=1):
    return np.random.default_rng(seed).integers(0, 256, shape).astype("float32")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A depth-2 binary U-Net saved with an info that has every field a predictor reads."""
    model = build_unet((None, None, 3), 2, depth=2, base_filters=4)
    rng = np.random.default_rng(0)  # biases off their initial zeros
    model.set_weights([w + rng.normal(0, 0.02, w.shape) for w in model.get_weights()])
    info = ModelInfo(
        (32, 32, 3), 2, ("background", "nucleus"), mpp=0.5, threshold=0.6, fingerprint="cd"
    )
    return save_model(model, tmp_path_factory.mktemp("m"), info).parent, model, info


def test_onnx_graph_reproduces_the_model_at_other_sizes_and_batches(tmp_path, model_folder):
    folder, model, info = model_folder
    result = export_onnx(folder, tmp_path / "out" / "net.onnx")
    assert result.path.is_file() and result.info_path == tmp_path / "out" / "net.json"
    assert result.max_abs_difference is not None and result.max_abs_difference < 1e-5
    assert result.check_shape == (1, 32, 32, 3)
    session = _session(result.path)
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    for shape in ((1, 48, 64, 3), (3, 20, 12, 3)):  # H and W: any multiple of 2**depth = 4
        x = _image(shape)
        (got,) = session.run(["probabilities"], {"image": x})
        assert got.shape == (*shape[:3], 1)
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_info_travels_in_the_file_and_beside_it(tmp_path, model_folder):
    folder, _, info = model_folder
    result = export_onnx(folder, tmp_path / "net.onnx")
    stored, interface = read_onnx_info(result.path)
    assert stored == info
    assert ModelInfo.from_json(result.info_path.read_text()) == info
    assert interface == result.interface
    assert interface["input"]["size_multiple"] == 4
    assert interface["input"]["layout"] == "NHWC"
    assert interface["output"]["activation"] == "sigmoid"
    assert interface["output"]["class_names"] == ["background", "nucleus"]
    assert interface["not_in_graph"] == {
        "stain_normalisation": "none", "mpp": 0.5, "threshold": 0.6, "target": "semantic"
    }  # fmt: skip


def test_mixed_precision_model_is_exported_in_float32(tmp_path):
    import keras

    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = build_unet((None, None, 3), 3, depth=2, base_filters=4)
    finally:
        keras.config.set_dtype_policy("float32")
    assert mixed.layers[2].dtype_policy.name == "mixed_float16"
    result = export_onnx(mixed, tmp_path / "mixed.onnx")
    x = _image((1, 32, 32, 3))
    (got,) = _session(result.path).run(["probabilities"], {"image": x})
    assert got.dtype == np.float32 and got.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)  # softmax over the classes
    np.testing.assert_allclose(got, mixed.predict(x, verbose=0), atol=2e-2)  # float16 vs 32
    assert result.interface["output"]["activation"] == "softmax"
    onnx = require_module("onnx", EXTRA)
    graph = onnx.load(str(result.path)).graph
    float16 = onnx.TensorProto.FLOAT16
    casts = [n for n in graph.node if n.op_type == "Cast" and n.attribute[0].i == float16]
    assert not casts, "the graph computes in float16"  # portable: float32 throughout


def test_any_keras_model_gets_the_same_input_and_output_names(tmp_path):
    import keras

    inputs = keras.Input((None, None, 1), name="pixels")  # not segkit's names
    model = keras.Model(inputs, keras.layers.Rescaling(1 / 255, name="scaled")(inputs))
    result = export_onnx(model, tmp_path / "plain.onnx")
    assert result.max_abs_difference == 0.0
    session = _session(result.path)
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    x = _image((2, 8, 4, 1))
    np.testing.assert_allclose(session.run(["probabilities"], {"image": x})[0], x / 255, rtol=1e-6)
    assert result.interface["input"]["size_multiple"] == 1


def test_a_graph_that_fails_its_check_leaves_the_old_file(tmp_path, model_folder, monkeypatch):
    import segkit.models.export as export

    folder, _, _ = model_folder
    target = tmp_path / "net.onnx"
    target.write_bytes(b"the previous export")
    monkeypatch.setattr(export, "_compare", lambda *a: 0.5)
    with pytest.raises(ValueError, match=r"differs from the model by 0\.5"):
        export_onnx(folder, target)
    assert target.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]  # no temporary left


def test_bad_requests_get_one_line(tmp_path, model_folder, capsys):
    folder, _, _ = model_folder
    with pytest.raises(ValueError, match=r"must end in \.onnx"):
        export_onnx(folder, tmp_path / "net.pb")
    not_onnx = tmp_path / "x.onnx"
    not_onnx.write_text("hello")
    with pytest.raises(ValueError, match="not an ONNX file"):
        read_onnx_info(not_onnx)
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "o.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("segkit export: error: ") and "missing does not exist" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "o.onnx").exists()


@pytest.mark.slow  # converts the bundled model (about 10 s)
def test_cli_exports_the_bundled_nucleus_model(tmp_path, capsys):
    out = tmp_path / "nuclei.onnx"
    assert main(["export", "segkit:nuclei", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "checked: ONNX Runtime and Keras agree within" in printed
    assert "softmax of background, negative, positive, boundary" in printed
    assert "the watershed that separates nuclei" in printed
    info = json.loads((tmp_path / "nuclei.json").read_text())
    assert info["target"] == "instances"
    (got,) = _session(out).run(["probabilities"], {"image": _image((1, 64, 64, 3))})
    assert got.shape == (1, 64, 64, 4)


def test_without_the_onnx_extra_the_error_says_what_to_install(tmp_path, model_folder, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # import tf2onnx now raises ImportError
    with pytest.raises(ValueError, match=r"needs tf2onnx: pip install 'segkit\[onnx\]'"):
        export_onnx(model_folder[0], tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()
