"""Training with stain normalisation: fitted on the train part, applied by both input pipelines,
saved in model.json and applied again by predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import require_module

require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.cli import build_parser  # noqa: E402
from segkit.commands.train import config_from_args  # noqa: E402
from segkit.dataset import load_manifest, load_pair, prepare_dataset  # noqa: E402
from segkit.inference import predict  # noqa: E402
from segkit.models import load_model  # noqa: E402
from segkit.stain_normalisation import (  # noqa: E402
    StainNormalisation,
    fit_stain_normalisation,
    normalise,
)
from segkit.synthetic import make_synthetic_dataset, make_synthetic_sample  # noqa: E402
from segkit.template import DatasetTemplate  # noqa: E402
from segkit.training import TrainConfig, train  # noqa: E402
from segkit.training.config import ConfigError  # noqa: E402
from segkit.training.loading import load_arrays, training_stain  # noqa: E402
from segkit.training.pydataset import PairDataset  # noqa: E402

TINY = {"depth": 2, "base_filters": 4, "batch_size": 4, "sample_figures": 1, "patience": 0}
REINHARD = TrainConfig(stain_normalisation="reinhard", **TINY)


def test_the_config_and_the_command_take_the_method() -> None:
    assert TrainConfig().stain_normalisation == "none"
    assert TrainConfig.from_json(REINHARD.to_json()) == REINHARD
    with pytest.raises(ConfigError, match="'stain_normalisation'.*histogram"):
        TrainConfig(stain_normalisation="histogram")
    args = build_parser().parse_args(["train", "DST", "--stain-normalisation", "macenko"])
    assert config_from_args(args).stain_normalisation == "macenko"


def test_the_target_is_fitted_on_the_train_part_once(prepared_small) -> None:
    manifest = load_manifest(prepared_small)
    assert training_stain(manifest, TrainConfig()) is None
    norm = training_stain(manifest, REINHARD)
    train_images = [load_pair(manifest, p)[0] for p in manifest.split("train")]
    assert norm == fit_stain_normalisation(train_images, "reinhard")
    assert norm is training_stain(manifest, REINHARD.replace(epochs=3))  # computed once


def test_both_pipelines_feed_normalised_images(prepared_small) -> None:
    manifest = load_manifest(prepared_small)
    norm = training_stain(manifest, REINHARD)
    pairs = manifest.split("val")
    raw = np.stack([load_pair(manifest, p)[0] for p in pairs])
    expected = np.stack([normalise(i, norm) for i in raw]).astype(np.float32)
    assert np.abs(expected - raw).mean() > 0.3  # the images did change
    images, _ = load_arrays(manifest, pairs, stain=norm)
    np.testing.assert_array_equal(images, expected)
    batch = PairDataset(manifest, "val", REINHARD, training=False, workers=1)[0][0]
    np.testing.assert_array_equal(batch, expected[: len(batch)])
    from segkit.training.backends import uses_tf_data

    if uses_tf_data():
        from segkit.training.pipeline import make_dataset

        first = next(iter(make_dataset(manifest, "val", REINHARD, training=False)))[0].numpy()
        np.testing.assert_array_equal(first, expected[: len(first)])


def test_a_run_saves_the_target_and_predict_applies_it(prepared_small, tmp_path) -> None:
    config = REINHARD.replace(epochs=1, steps_per_epoch=2)
    run = train(prepared_small, config, runs_dir=tmp_path, run_id="stain")
    data = json.loads((tmp_path / "stain" / "model.json").read_text())
    norm = training_stain(load_manifest(prepared_small), config)
    assert data["stain_normalisation"] == norm.to_dict()
    assert data["stain_normalisation"]["method"] == "reinhard"
    model, info = load_model(run.path)
    assert info.stain_normalisation == norm
    image = make_synthetic_sample(64, 64, seed=99).image
    plain = info.replace(stain_normalisation=StainNormalisation(), scale=(1.0, 1.0))
    scaled = predict(model, image, info=info.replace(scale=(1.0, 1.0)))
    np.testing.assert_array_equal(scaled, predict(model, normalise(image, norm), info=plain))
    np.testing.assert_array_equal(predict(run, image), predict(model, image, info=info))


def test_a_grey_data_set_is_refused_before_the_run_starts(tmp_path) -> None:
    source = make_synthetic_dataset(tmp_path / "src", 4, height=32, width=32)
    template = DatasetTemplate(height=32, width=32, color_model="grayscale")
    prepare_dataset(source, tmp_path / "grey", template, progress=False, workers=1)
    with pytest.raises(ValueError, match="needs an RGB data set.*'grayscale'"):
        train(tmp_path / "grey", REINHARD, runs_dir=tmp_path / "runs", run_id="g")
    assert not (tmp_path / "runs" / "g").exists()
