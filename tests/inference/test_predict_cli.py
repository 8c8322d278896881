import numpy as np
import pytest

from segkit.cli import main
from segkit.imaging import read_image, write_image
from segkit.models import ModelInfo, build_unet, save_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    model = build_unet((None, None, 3), 2, depth=2, base_filters=4)
    save_model(model, out, ModelInfo((32, 32, 3), scale=(0.5, 0.5)))
    return out


def test_predict_writes_raw_sized_masks_and_overlays(tmp_path, model_dir, capsys):
    rng = np.random.default_rng(0)
    write_image(tmp_path / "in" / "a.png", rng.integers(0, 256, (90, 70, 3)).astype(np.uint8))
    write_image(tmp_path / "in" / "b.tif", rng.integers(0, 4000, (50, 64)).astype(np.uint16))
    code = main(
        ["predict", str(model_dir), str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--overlay"]
    )
    assert code == 0
    a = read_image(tmp_path / "out" / "a.png")
    assert a.shape == (90, 70) and set(np.unique(a)) <= {0, 255}
    assert read_image(tmp_path / "out" / "b.png").shape == (50, 64)
    assert read_image(tmp_path / "out" / "a_overlay.png").shape == (90, 70, 3)
    assert "a.png ->" in capsys.readouterr().out


def test_predict_to_a_single_file_with_tta(tmp_path, model_dir):
    write_image(tmp_path / "x.png", np.full((40, 40), 128, dtype=np.uint8))
    out = tmp_path / "mask.png"
    assert main(["predict", str(model_dir), str(tmp_path / "x.png"), "-o", str(out), "--tta"]) == 0
    assert read_image(out).shape == (40, 40)


def test_predict_reports_a_missing_image(tmp_path, model_dir, capsys):
    code = main(["predict", str(model_dir), str(tmp_path / "nope.png"), "-o", str(tmp_path)])
    assert code == 1
    assert "nope.png" in capsys.readouterr().err


def test_predict_max_pixels_flag(tmp_path, model_dir, capsys):
    write_image(tmp_path / "big.png", np.zeros((60, 60), dtype=np.uint8))
    args = ["predict", str(model_dir), str(tmp_path / "big.png"), "-o", str(tmp_path / "m.png")]
    assert main([*args, "--max-pixels", "1000"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "big.png" in err[0] and "3,600 pixels" in err[0]
    assert main([*args, "--max-pixels", "4000"]) == 0


def test_predict_output_through_a_file_fails_before_loading(tmp_path, model_dir, capsys):
    write_image(tmp_path / "x.png", np.zeros((20, 20), dtype=np.uint8))
    (tmp_path / "f").write_text("x")
    code = main(["predict", str(model_dir), str(tmp_path / "x.png"), "-o", str(tmp_path / "f/o")])
    assert code == 1 and "not a folder" in capsys.readouterr().err


def test_predict_instances_writes_a_label_image(tmp_path, model_dir, capsys):
    import tifffile

    rng = np.random.default_rng(1)
    write_image(tmp_path / "a.png", rng.integers(0, 256, (70, 90, 3)).astype(np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(model_dir), str(tmp_path / "a.png"), "-o", str(out),
                 "--instances"]) == 0  # fmt: skip
    labels = tifffile.imread(out / "a_instances.tif")
    assert labels.shape == (70, 90) and labels.dtype in (np.uint16, np.uint32)
    assert "objects)" in capsys.readouterr().out
