"""segkit predict streams a whole slide; plain images keep the in-memory path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from support import require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")
keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.cli import main  # noqa: E402
from segkit.models import ModelInfo, save_model  # noqa: E402
from segkit.slides import make_synthetic_slide  # noqa: E402


def _dark_model(tmp_path: Path) -> Path:
    inputs = keras.Input((None, None, 3))
    grey = keras.ops.mean(inputs, axis=-1, keepdims=True)
    fg = keras.ops.sigmoid((200.0 - grey) / 8.0)
    model = keras.Model(inputs, keras.ops.concatenate([1.0 - fg, fg], axis=-1))
    save_model(model, tmp_path / "m", ModelInfo((256, 256, 3), mpp=0.5))
    return tmp_path / "m"


def test_predict_streams_a_slide_to_a_pyramid(tmp_path: Path, capsys) -> None:
    import tifffile

    made = make_synthetic_slide(tmp_path / "case.ome.tif", size=(3072, 2048), tissue_fraction=0.2,
                                mpp=0.25, kind="ome", seed=1)  # fmt: skip
    out = tmp_path / "out"
    code = main(["predict", str(_dark_model(tmp_path)), str(made.path), "-o", str(out),
                 "--max-pixels", "1000000"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "glass skipped" in printed and "case_tissue.png" in printed
    with tifffile.TiffFile(out / "case.ome.tif") as tif:
        series = tif.series[0]
        assert series.shape[:2] == (2048, 3072) and len(series.levels) >= 3
        full = series.asarray()
    assert set(np.unique(full)) <= {0, 255}
    assert (out / "case_tissue.png").is_file()
