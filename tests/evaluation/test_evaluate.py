import csv
import json
import math

import numpy as np
import pytest

from segkit.cli import main
from segkit.evaluation import evaluate
from segkit.imaging import write_image
from segkit.models import ModelInfo, save_model
from segkit.template import DatasetTemplate


def _write_dataset(root, images, masks, split="test"):
    """A prepared data set written by hand, following docs/prepared-dataset.md."""
    template = DatasetTemplate(height=32, width=32, color_model="grayscale")
    pairs = []
    for i, (image, mask) in enumerate(zip(images, masks)):
        name = f"img{i}"
        write_image(root / split / "images" / f"{name}.png", image)
        write_image(root / split / "masks" / f"{name}.png", (mask > 0).astype(np.uint8) * 255)
        pairs.append(
            {
                "name": name,
                "split": split,
                "group": name,
                "image": f"{split}/images/{name}.png",
                "mask": f"{split}/masks/{name}.png",
                "scale": [1.0, 1.0],
                "tile": None,
            }
        )
    manifest = {
        "format_version": 1,
        "segkit_version": "0.1.0",
        "created": "2026-11-27T16:00:00Z",
        "source": "/nowhere",
        "template": template.to_dict(),
        "fingerprint": "f" * 64,
        "pairs": pairs,
        "skipped": [],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def pointwise_model():
    """Probability = pixel / 255: an image equal to 255 * mask is predicted perfectly."""
    import keras

    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Rescaling(1 / 255)(inputs))
    # a scale that evaluation must ignore: prepared images are already scaled
    info = ModelInfo((32, 32, 1), color_model="grayscale", scale=(0.5, 0.5), fingerprint="f" * 64)
    return model, info


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    truth = np.zeros((3, 32, 32), dtype=np.uint8)
    truth[0, 4:12, 4:12] = 1
    truth[1, 4:12, 4:12] = 1
    truth[1, 20:28, 20:28] = 1
    images = truth * 255
    images[1, 20:28, 20:28] = 0  # the second object of image 1 is missed
    images[2, 0:4, 0:4] = 255  # image 2: empty truth, something predicted
    return _write_dataset(tmp_path_factory.mktemp("prepared"), images, truth)


def test_evaluate_scores_each_image_and_writes_csv_and_summary(tmp_path, dataset, pointwise_model):
    result = evaluate(pointwise_model, dataset, "test", output_dir=tmp_path / "eval")
    rows = {row["name"]: row for row in result.per_image}
    assert rows["img0"]["dice"] == 1.0 and rows["img0"]["object_f1"] == 1.0
    assert rows["img1"]["dice"] == pytest.approx(2 * 64 / (128 + 64))
    assert rows["img1"]["recall"] == pytest.approx(0.5)
    assert (rows["img1"]["object_tp"], rows["img1"]["object_fn"]) == (1, 1)
    assert rows["img2"]["dice"] == 0.0 and rows["img2"]["object_fp"] == 1
    # boundary distances: the missed square's far corner (27, 27) to the found one's (11, 11)
    assert rows["img0"]["hausdorff"] == 0.0
    assert rows["img1"]["hausdorff"] == pytest.approx(math.hypot(16, 16))
    assert math.isnan(rows["img2"]["hd95"])  # empty truth: undefined, not averaged
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["count"] == 3 and summary["same_dataset"] is True
    assert summary["mean"]["dice"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert summary["mean"]["hausdorff"] == pytest.approx(math.hypot(16, 16) / 2)
    assert summary["distances_undefined"] == 1
    assert summary["objects"] == pytest.approx(
        {
            "tp": 2,
            "fp": 1,
            "fn": 1,
            "object_precision": 2 / 3,
            "object_recall": 2 / 3,
            "object_f1": 2 / 3,
        }  # fmt: skip
    )
    with open(tmp_path / "eval" / "per_image.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["name"] for r in table] == ["img0", "img1", "img2"]
    assert float(table[1]["dice"]) == pytest.approx(2 / 3, abs=1e-6)


def test_empty_split_and_class_mismatch_are_explained(dataset, pointwise_model):
    with pytest.raises(ValueError, match="'train' is empty"):
        evaluate(pointwise_model, dataset, "train")
    model, info = pointwise_model
    with pytest.raises(ValueError, match="3 classes"):
        evaluate((model, info.replace(num_classes=3, class_names=())), dataset)


def test_cli_evaluates_a_saved_model_folder(tmp_path, dataset, pointwise_model, capsys):
    model, info = pointwise_model
    save_model(model, tmp_path / "run", info)
    assert main(["evaluate", str(tmp_path / "run"), str(dataset), "--save-predictions"]) == 0
    out = tmp_path / "run" / "evaluation" / "test"
    assert (out / "per_image.csv").is_file() and (out / "predictions" / "img1.png").is_file()
    printed = capsys.readouterr().out
    assert "dice" in printed and "(undefined on 1 image: one mask empty)" in printed


def test_evaluate_a_unet_on_a_data_set_written_by_prepare(tmp_path, synthetic_source):
    from segkit.dataset import prepare_dataset
    from segkit.models import build_unet

    template = DatasetTemplate(height=32, width=32)
    prepare_dataset(synthetic_source, tmp_path / "ds", template, workers=1, progress=False)
    model = build_unet((32, 32, 3), 2, depth=2, base_filters=4)
    result = evaluate((model, ModelInfo.from_template(template)), tmp_path / "ds", "train")
    assert result.summary["count"] == len(result.per_image) > 0
    assert all(0.0 <= row["dice"] <= 1.0 for row in result.per_image)
    assert result.summary["same_dataset"] is False
