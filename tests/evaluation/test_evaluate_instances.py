"""evaluate separates objects when the data set has instance labels or points."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import require_module

keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.cli import main  # noqa: E402
from segkit.dataset import prepare_dataset  # noqa: E402
from segkit.evaluation import evaluate  # noqa: E402
from segkit.imaging import write_image  # noqa: E402
from segkit.models import ModelInfo, save_model  # noqa: E402
from segkit.synthetic import make_synthetic_dataset, make_synthetic_sample  # noqa: E402
from segkit.template import DatasetTemplate, SplitSpec  # noqa: E402

ALL_TEST = SplitSpec(0.0, 0.0, 1.0, seed=0)


def _oracle(tmp_path: Path) -> Path:
    """A saved stand-in model: foreground where the pixel is darker than the glass."""
    inputs = keras.Input((None, None, 3))
    grey = keras.ops.mean(inputs, axis=-1, keepdims=True)
    fg = keras.ops.sigmoid((200.0 - grey) / 8.0)
    model = keras.Model(inputs, keras.ops.concatenate([1.0 - fg, fg], axis=-1))
    folder = tmp_path / "oracle"
    save_model(model, folder, ModelInfo((64, 64, 3)))
    return folder


@pytest.fixture
def oracle(tmp_path: Path) -> Path:
    return _oracle(tmp_path)


def test_instance_scores_on_instance_labels(tmp_path: Path, oracle: Path) -> None:
    src = make_synthetic_dataset(tmp_path / "src", 3, height=96, width=96,
                                 mask_encoding="instance", seed=2)  # fmt: skip
    template = DatasetTemplate(height=96, width=96, split=ALL_TEST, target="instances")
    prepare_dataset(src, tmp_path / "dst", template, progress=False, workers=1)
    result = evaluate(oracle, tmp_path / "dst", "test", output_dir=tmp_path / "ev")
    row = result.per_image[0]
    for key in ("aji", "pq", "dq", "sq", "f1_at_0.5", "dice", "pred_objects"):
        assert key in row, key
    assert 0.5 < result.summary["mean"]["aji"] <= 1.0  # the stand-in sees the nuclei well
    assert 0.5 < result.summary["mean"]["f1_at_0.5"] <= 1.0
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert "aji" in summary["mean"]


def test_point_scores_on_a_points_data_set(tmp_path: Path, oracle: Path, capsys) -> None:
    src = tmp_path / "src"
    for i in range(2):
        s = make_synthetic_sample(96, 96, seed=10 + i)
        write_image(src / "images" / f"f{i}.png", s.image)
        ids = np.unique(s.labels[s.labels > 0])
        rows, cols = zip(*[np.argwhere(s.labels == k).mean(axis=0) for k in ids], strict=True)
        pts = [{"x": float(c) + 0.5, "y": float(r) + 0.5, "label_id": 2}
               for r, c in zip(rows, cols, strict=True)]  # fmt: skip
        (src / "points").mkdir(parents=True, exist_ok=True)
        (src / "points" / f"f{i}.json").write_text(json.dumps(pts))
    template = DatasetTemplate(height=96, width=96, split=ALL_TEST)
    prepare_dataset(src, tmp_path / "dst", template, progress=False, workers=1)
    code = main(["evaluate", str(oracle), str(tmp_path / "dst"), "-o", str(tmp_path / "ev")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "point_f1" in printed and "pooled precision" in printed
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["points"]["f1"] > 0.8
    assert "dice" not in summary["mean"]  # no masks: no pixel scores
