"""The bundled nucleus model: shipped in the package, addressed as segkit:nuclei, plain Keras."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from support import require_module

require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.cli import main  # noqa: E402
from segkit.imaging import write_image  # noqa: E402
from segkit.models import resolve_model  # noqa: E402
from segkit.models.bundled import bundled_model_path, bundled_models  # noqa: E402
from segkit.synthetic import make_synthetic_sample  # noqa: E402


def test_the_nucleus_model_is_bundled_with_its_card() -> None:
    assert "nuclei" in bundled_models()
    folder = bundled_model_path("segkit:nuclei")
    card = (folder / "MODEL_CARD.md").read_text()
    for words in ("MoNuSeg", "CC BY-NC-SA", "Labelbox", "µm", "Known limits"):
        assert words in card, words
    assert (folder / "model.keras").stat().st_size < 20_000_000


def test_it_loads_with_plain_keras_in_a_fresh_process() -> None:
    path = bundled_model_path("segkit:nuclei") / "model.keras"
    code = "import keras, sys; m = keras.models.load_model(sys.argv[1]); print(m.output_shape[-1])"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "4"  # background, negative, positive, boundary


def test_info_says_what_it_expects() -> None:
    _, info = resolve_model("segkit:nuclei")
    assert info.target == "instances" and info.mpp == 0.4
    assert info.class_names == ("background", "negative", "positive", "boundary")


def test_predict_segkit_nuclei_separates_synthetic_nuclei(tmp_path, capsys) -> None:
    sample = make_synthetic_sample(256, 256, seed=11, radius=(5.0, 10.0))
    write_image(tmp_path / "tile.png", sample.image)
    code = main(["predict", "segkit:nuclei", str(tmp_path / "tile.png"), "-o", str(tmp_path),
                 "--instances", "--mpp", "0.4"])  # fmt: skip
    assert code == 0
    import tifffile

    labels = tifffile.imread(tmp_path / "tile_instances.tif")
    found, truth = len(np.unique(labels[labels > 0])), int(sample.labels.max())
    assert 0.6 * truth <= found <= 1.4 * truth, (found, truth)


def test_unknown_bundled_name_lists_those_there_are() -> None:
    import pytest

    with pytest.raises(FileNotFoundError, match="bundled: segkit:nuclei"):
        resolve_model("segkit:nothing")
