"""A model's stain normalisation is applied alike by predict, evaluate, instances and widgets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import require_module

keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.decision import model_mask  # noqa: E402
from segkit.evaluation import evaluate  # noqa: E402
from segkit.imaging import encode_mask, read_image, write_image  # noqa: E402
from segkit.inference import predict, predict_proba  # noqa: E402
from segkit.instances import predict_instance_map  # noqa: E402
from segkit.models import ModelInfo, load_model, save_model  # noqa: E402
from segkit.stain_normalisation import (  # noqa: E402
    StainNormalisation,
    fit_stain_normalisation,
    normalise,
)
from segkit.synthetic import make_synthetic_sample  # noqa: E402
from segkit.template import DatasetTemplate  # noqa: E402
from segkit.widgets.logic import predict_mask  # noqa: E402


@pytest.fixture(scope="module")
def darkness() -> keras.Model:
    """Per pixel: foreground probability rises with darkness (1 - mean / 255)."""
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    conv = keras.layers.Conv2D(1, 1)
    x = conv(x)
    conv.set_weights([np.full((1, 1, 3, 1), -8.0 / 3.0, np.float32), np.array([4.0], np.float32)])
    return keras.Model(inputs, keras.layers.Activation("sigmoid")(x))


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return make_synthetic_sample(96, 96, seed=7).image


def _targets() -> dict[str, StainNormalisation]:
    # a darker, bluer lab's stain than the image's, so the masks differ
    darker = [np.clip(make_synthetic_sample(96, 96, seed=s).image * 0.7, 0, 255) for s in (1, 2)]
    return {m: fit_stain_normalisation(darker, m) for m in ("macenko", "reinhard")}


TARGETS = _targets()
PLAIN = ModelInfo((None, None, 3))


@pytest.mark.parametrize("method", ["macenko", "reinhard"])
def test_predict_feeds_the_model_the_normalised_image(darkness, image, method) -> None:
    info = PLAIN.replace(stain_normalisation=TARGETS[method])
    got = predict(darkness, image, info=info, tile_size=64)
    expected = predict(darkness, normalise(image, TARGETS[method]), info=PLAIN, tile_size=64)
    np.testing.assert_array_equal(got, expected)
    assert (got != predict(darkness, image, info=PLAIN, tile_size=64)).mean() > 0.01
    widget = predict_mask(darkness, info, image)  # the prediction viewer's call
    np.testing.assert_array_equal(widget, predict(darkness, image, info=info))


def test_a_saved_model_brings_its_normalisation_along(tmp_path, darkness, image) -> None:
    info = PLAIN.replace(stain_normalisation=TARGETS["macenko"])
    save_model(darkness, tmp_path / "m", info)
    data = json.loads((tmp_path / "m" / "model.json").read_text())
    assert data["stain_normalisation"] == TARGETS["macenko"].to_dict()
    _, loaded = load_model(tmp_path / "m")
    assert loaded.stain_normalisation == TARGETS["macenko"]
    np.testing.assert_array_equal(
        predict(tmp_path / "m", image), predict(darkness, image, info=info)
    )


def test_instances_and_evaluate_give_the_same_mask_as_predict(tmp_path, darkness, image) -> None:
    info = PLAIN.replace(stain_normalisation=TARGETS["reinhard"])
    mask = predict(darkness, image, info=info, tile_size=64)
    found = predict_instance_map(darkness, image, info=info, tile_size=64)
    np.testing.assert_array_equal(model_mask(found.proba, threshold=0.5), mask)
    np.testing.assert_allclose(found.proba, predict_proba(darkness, image, info=info, tile_size=64))
    assert found.labels.max() > 0

    root = tmp_path / "ds"
    template = DatasetTemplate(height=96, width=96)
    truth = make_synthetic_sample(96, 96, seed=7).mask
    write_image(root / "test" / "images" / "img0.png", image)
    write_image(root / "test" / "masks" / "img0.png", truth)
    pair = {"name": "img0", "split": "test", "group": "img0", "image": "test/images/img0.png",
            "mask": "test/masks/img0.png", "scale": [1.0, 1.0], "tile": None}  # fmt: skip
    manifest = {"format_version": 1, "segkit_version": "0", "created": "2026-12-01T00:00:00Z",
                "source": "/nowhere", "template": template.to_dict(), "fingerprint": "f" * 64,
                "pairs": [pair], "skipped": []}  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "eval"
    evaluate((darkness, info), root, "test", output_dir=out, tile_size=64, save_predictions=True,
             instances=False)  # fmt: skip
    np.testing.assert_array_equal(read_image(out / "predictions" / "img0.png"),
                                  encode_mask(mask, 2))  # fmt: skip


def test_old_model_json_without_the_field_is_none() -> None:
    from segkit.models.bundled import bundled_model_path

    path = bundled_model_path("segkit:nuclei") / "model.json"
    data = json.loads(path.read_text())
    assert "stain_normalisation" not in data
    info = ModelInfo.from_json(path.read_text())
    assert info.stain_normalisation.is_none
    assert info.to_dict() == data  # written back exactly as it was


def test_model_info_refuses_a_normalisation_it_cannot_apply() -> None:
    with pytest.raises(ValueError, match="'stain_normalisation'.*non-RGB"):
        ModelInfo((None, None, 1), color_model="grayscale", stain_normalisation=TARGETS["macenko"])
    with pytest.raises(ValueError, match="model info field 'stain_normalisation'"):
        ModelInfo.from_dict({"input_shape": [None, None, 3],
                             "stain_normalisation": {"method": "reinhard"}})  # fmt: skip
    info = ModelInfo.from_dict({"input_shape": [8, 8, 3], "stain_normalisation": "none"})
    assert info.stain_normalisation == StainNormalisation()
