from __future__ import annotations

import datetime

import numpy as np
import pytest
from support import require_module

require_module("ipywidgets", "the notebooks extra: pip install -e '.[notebooks]'")
keras = require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.imaging import encode_image, write_image  # noqa: E402
from segkit.widgets import PredictionViewer, logic  # noqa: E402


@pytest.fixture(scope="module")
def bright_model():
    """Foreground where the red channel is bright: a model whose answer is known."""
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Lambda(lambda x: keras.ops.sigmoid((x[..., :1] - 127.5) * 10.0))(inputs)
    return keras.Model(inputs, outputs)


@pytest.fixture()
def image():
    img = np.zeros((48, 40, 3), np.uint8)
    img[10:30, 5:20, 0] = 250
    return img


def test_decode_upload_both_forms(image):
    data = encode_image(image, ".png")
    name, pixels = logic.decode_upload(({"name": "a.png", "content": memoryview(data)},))
    assert name == "a.png" and np.array_equal(pixels, image)
    name, pixels = logic.decode_upload({"b.png": {"content": data}})
    assert name == "b.png" and pixels.shape == image.shape
    with pytest.raises(ValueError, match="no file"):
        logic.decode_upload(())


def test_resolve_model_passes_pairs_through(bright_model):
    from segkit.models import ModelInfo

    info = ModelInfo.from_model(bright_model).replace(threshold=0.4)
    assert logic.resolve_model((bright_model, info)) == (bright_model, info)
    assert logic.resolve_model(bright_model) == (bright_model, ModelInfo.from_model(bright_model))
    with pytest.raises(FileNotFoundError):
        logic.resolve_model("/nonexistent/run")


def test_viewer_predicts_upload_and_path(bright_model, image, tmp_path):
    viewer = PredictionViewer(bright_model)
    viewer.run()
    assert "upload an image" in viewer.status.value and viewer.prediction is None
    viewer.upload.value = (
        {
            "name": "cells.png",
            "content": memoryview(encode_image(image, ".png")),
            "type": "image/png",
            "size": 1,
            "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        },
    )
    assert viewer.prediction is not None  # uploading predicts at once
    assert np.array_equal(viewer.prediction, (image[..., 0] > 127).astype(np.uint8))
    assert "cells.png" in viewer.status.value and "foreground" in viewer.status.value
    before = viewer.view.value
    viewer.alpha.value = 0.9
    assert viewer.view.value != before and viewer.view.value[:4] == b"\x89PNG"

    path = write_image(tmp_path / "other.png", image[::-1])
    on_disk = PredictionViewer((bright_model, None), image=path)
    assert np.array_equal(on_disk.prediction, (image[::-1, :, 0] > 127).astype(np.uint8))
    on_disk.path.value = str(tmp_path / "missing.png")
    assert on_disk.run() is None and "no such file" in on_disk.status.value
