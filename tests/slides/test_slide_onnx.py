"""A slide predicted with an exported ``.onnx`` file: the same mask, and resume knows the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from slide_models import array_slide, darkness_model, model_info, tissue_image
from support import require_module

EXTRA = "the onnx extra: pip install -e '.[onnx]'"
tifffile = require_module("tifffile", "segkit's install requirements: pip install -e .")
require_module("zarr", "the slides extra: pip install -e '.[slides]'")
require_module("tf2onnx", EXTRA)
require_module("onnxruntime", EXTRA)

from segkit.models import save_model  # noqa: E402
from segkit.models.export import export_onnx  # noqa: E402
from segkit.slides import predict_slide  # noqa: E402


@pytest.mark.parametrize("num_classes", [2, 3])
def test_onnx_slide_mask_equals_the_keras_one(tmp_path: Path, num_classes: int) -> None:
    image = tissue_image((520, 610), seed=2)
    model, info = darkness_model(num_classes=num_classes), model_info(num_classes=num_classes)
    save_model(model, tmp_path / "m", info)
    onnx_path = export_onnx(tmp_path / "m", tmp_path / "m.onnx").path
    slide = array_slide(image)
    runs = {
        name: predict_slide(m, slide, tmp_path / name, tile_size=128, progress=False)
        for name, m in (("keras", tmp_path / "m"), ("onnx", onnx_path))
    }
    with tifffile.TiffFile(runs["keras"].path) as a, tifffile.TiffFile(runs["onnx"].path) as b:
        want, got = a.series[0].levels[0].asarray(), b.series[0].levels[0].asarray()
    assert len(np.unique(want)) >= 2  # not all one class
    np.testing.assert_array_equal(got, want)
    assert runs["onnx"].predicted == runs["keras"].predicted > 0

    again = predict_slide(onnx_path, slide, tmp_path / "onnx", tile_size=128, progress=False)
    assert again.resumed_from_band == again.bands  # the same file: nothing predicted again
    with pytest.raises(ValueError, match=r"other settings \(weights\)"):
        predict_slide(_changed(onnx_path, tmp_path), slide, tmp_path / "onnx", tile_size=128,
                      progress=False)  # fmt: skip


def _changed(path: Path, tmp_path: Path) -> Path:
    """A copy of ``path`` with one more metadata entry: another file, the same graph."""
    import onnx

    graph_model = onnx.load(str(path))
    entry = graph_model.metadata_props.add()
    entry.key, entry.value = "note", "changed"
    out = tmp_path / "changed.onnx"
    onnx.save(graph_model, str(out))
    return out
