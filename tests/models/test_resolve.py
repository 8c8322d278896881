import numpy as np
import pytest

from segkit.models import ModelInfo, build_unet, resolve_model, save_model
from segkit.runs import Run
from segkit.training import TrainConfig


@pytest.fixture(scope="module")
def model():
    return build_unet((None, None, 1), 2, depth=1, base_filters=2)


@pytest.fixture(scope="module")
def info():
    return ModelInfo((32, 32, 1), color_model="grayscale", scale=(0.5, 0.5), threshold=0.3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, model, info):
    """A model folder (what a finished run folder holds)."""
    folder = tmp_path_factory.mktemp("run")
    save_model(model, folder, info)
    return folder


def _same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_a_folder_a_keras_file_and_a_run_load_the_saved_model_and_info(saved, model, info):
    for source in (saved, str(saved), saved / "model.keras", Run(saved, TrainConfig())):
        loaded, loaded_info = resolve_model(source)
        assert loaded_info == info
        assert _same_weights(loaded, model)


def test_a_keras_file_without_model_json_gets_info_from_the_model(tmp_path, model):
    path = tmp_path / "bare.keras"
    model.save(path)
    loaded, info = resolve_model(path)
    assert info == ModelInfo.from_model(model)
    assert info.color_model == "grayscale" and info.threshold == 0.5


def test_a_model_and_a_pair_pass_through(model, info):
    assert resolve_model(model) == (model, ModelInfo.from_model(model))
    assert resolve_model((model, info)) == (model, info)
    assert resolve_model((model, None)) == (model, ModelInfo.from_model(model))


def _one_line(exc_info):
    text = str(exc_info.value)
    assert "\n" not in text
    return text


def test_paths_that_hold_no_model_are_explained(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as exc:
        resolve_model(missing)
    text = _one_line(exc)
    assert str(missing) in text and "does not exist" in text and "expected a run folder" in text
    with pytest.raises(FileNotFoundError) as exc:
        resolve_model(tmp_path)
    assert f"{tmp_path} holds no model.keras" in _one_line(exc)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    with pytest.raises(ValueError) as exc:
        resolve_model(notes)
    assert f"{notes} is not a .keras file" in _one_line(exc)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError) as exc:
        resolve_model(broken)
    assert f"{broken}: cannot load the model" in _one_line(exc)


def test_other_values_are_refused_with_what_is_accepted(model):
    with pytest.raises(TypeError) as exc:
        resolve_model(42)
    assert "from 42 (int); expected segkit:NAME (a bundled model), a run folder" in _one_line(exc)
    with pytest.raises(TypeError, match=r"tuple of \(str, str\); expected segkit:NAME"):
        resolve_model(("a", "b"))
    with pytest.raises(TypeError, match="info of a .* pair is a str; expected a segkit.models"):
        resolve_model((model, "info"))
