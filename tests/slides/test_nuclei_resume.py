"""An interrupted slide nuclei / Ki-67 run continues after its last saved pass, same outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import require_module

tifffile = require_module("tifffile", "segkit's install requirements: pip install -e .")
require_module("zarr", "the slides extra: pip install -e '.[slides]'")
keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.models.saving import ModelInfo  # noqa: E402
from segkit.slides import make_synthetic_slide  # noqa: E402


def _dark_model() -> keras.Model:
    inputs = keras.Input((None, None, 3))
    grey = keras.ops.mean(inputs, axis=-1, keepdims=True)
    fg = keras.ops.sigmoid((200.0 - grey) / 8.0)
    return keras.Model(inputs, keras.ops.concatenate([1.0 - fg, fg], axis=-1))


def _info() -> ModelInfo:
    return ModelInfo((128, 128, 3), class_names=("background", "nucleus"), mpp=0.5)


class _Crash(RuntimeError):
    pass


def _count_calls(monkeypatch, crash_after: int | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    """Count ``predict_on_batch`` calls; raise :class:`_Crash` after ``crash_after`` of them."""
    calls: list[int] = []
    original = keras.Model.predict_on_batch

    def counted(self, x):  # type: ignore[no-untyped-def]
        if crash_after is not None and len(calls) >= crash_after:
            raise _Crash("the machine went down")
        calls.append(len(x))
        return original(self, x)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counted)
    return calls


def _slide(tmp_path: Path) -> Path:
    return make_synthetic_slide(
        tmp_path / "r.ome.tif", size=(1000, 1200), tissue_fraction=0.4, mpp=0.5, tile=256,
        levels=2, seed=8, compression="zlib",
    ).path  # fmt: skip


def _passes(folder: Path) -> int:
    state = json.loads((folder / "progress.json").read_text())["state"]
    return 0 if state is None else int(state["passes"])


def _features(path: Path) -> list[dict]:
    """The GeoJSON's features without their ids (random UUIDs)."""
    features = json.loads(path.read_text())["features"]
    return [{k: v for k, v in f.items() if k != "id"} for f in features]


def _level0(path: Path) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        return tif.series[0].levels[0].asarray()


def test_predict_instances_resumes_mask_and_nuclei(tmp_path: Path, monkeypatch) -> None:
    from segkit.cli import main
    from segkit.models import save_model

    slide = _slide(tmp_path)
    save_model(_dark_model(), tmp_path / "m", _info())
    args = [str(tmp_path / "m"), str(slide), "--instances", "--tile-size", "128"]
    with monkeypatch.context() as patch:
        whole = _count_calls(patch)
        assert main(["predict", *args, "-o", str(tmp_path / "whole")]) == 0
    total = len(whole)

    cut = tmp_path / "cut"
    with monkeypatch.context() as patch, pytest.raises(_Crash):
        _count_calls(patch, crash_after=total - 2)  # the last rows of windows
        main(["predict", *args, "-o", str(cut)])
    assert not (cut / "r.geojson").exists() and not (cut / "r.ome.tif").exists()
    assert _passes(cut / ".r.nuclei") >= 1, "a pass was saved before the crash"

    with monkeypatch.context() as patch:
        again = _count_calls(patch)
        assert main(["predict", *args, "-o", str(cut)]) == 0
    assert 0 < len(again) < total, "the resumed run predicts only what was missing, and more"
    found = _features(cut / "r.geojson")
    assert found == _features(tmp_path / "whole" / "r.geojson") and len(found) > 50
    np.testing.assert_array_equal(
        _level0(cut / "r.ome.tif"), _level0(tmp_path / "whole" / "r.ome.tif")
    )
    assert not (cut / ".r.nuclei").exists() and not (cut / ".r.zarr").exists()


def test_a_slide_ki67_score_resumes(tmp_path: Path, monkeypatch) -> None:
    from segkit.ki67.wholeslide import score_ki67_slide

    slide = _slide(tmp_path)
    model = (_dark_model(), _info())
    with monkeypatch.context() as patch:
        whole_calls = _count_calls(patch)
        whole = score_ki67_slide(slide, tmp_path / "whole", model, tile_size=128, min_cells=20)
    cut = tmp_path / "cut"
    with monkeypatch.context() as patch, pytest.raises(_Crash):
        _count_calls(patch, crash_after=len(whole_calls) - 2)
        score_ki67_slide(slide, cut, model, tile_size=128, min_cells=20)
    assert _passes(cut / ".r.nuclei") >= 1 and not (cut / "r.geojson").exists()
    with monkeypatch.context() as patch:
        again_calls = _count_calls(patch)
        again = score_ki67_slide(slide, cut, model, tile_size=128, min_cells=20)
    assert 0 < len(again_calls) < len(whole_calls)
    assert again.summary == whole.summary and again.hotspot == whole.hotspot
    assert (again.predicted, again.cut) == (whole.predicted, whole.cut)
    assert whole.summary.total > 50
    assert _features(cut / "r.geojson") == _features(tmp_path / "whole" / "r.geojson")
    assert not (cut / ".r.nuclei").exists()


def test_other_settings_find_the_nuclei_again(tmp_path: Path) -> None:
    from segkit.slides.nuclei_resume import NucleiProgress, NucleiState

    first = NucleiProgress(tmp_path, "s", {"tile": [128, 128]})
    kept = np.zeros((4, 6), dtype=bool)
    kept[1, 2] = True
    first.save(NucleiState(10, 3, 1, 5, 2, 0, kept), [["nucleus", [[0.5, 1.0]]]])
    with open(first.records_path, "a", encoding="utf-8") as fh:
        fh.write('[["torn", ')  # a pass cut off by a kill before its state was saved
    same = NucleiProgress(tmp_path, "s", {"tile": [128, 128]})
    assert same.state is not None and same.state.passes == 1 and same.state.top == 10
    np.testing.assert_array_equal(same.state.kept, kept)
    assert list(same.records()) == [[["nucleus", [[0.5, 1.0]]]]]
    with pytest.warns(UserWarning, match=r"other settings \(tile\)"):
        other = NucleiProgress(tmp_path, "s", {"tile": [64, 64]})
    assert other.state is None and list(other.records()) == []
