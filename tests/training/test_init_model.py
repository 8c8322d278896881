"""Fine-tuning: ``TrainConfig.init_model`` starts a run from another model's weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import require_module

keras = require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.files import sha256_file  # noqa: E402
from segkit.models import load_model  # noqa: E402
from segkit.training import TrainConfig, train  # noqa: E402
from segkit.training.config import ConfigError  # noqa: E402

TINY = {"depth": 2, "base_filters": 4, "batch_size": 4, "sample_figures": 0, "patience": 0}


class FirstWeights(keras.callbacks.Callback):
    """The model's weights when training begins (after initialisation)."""

    def on_train_begin(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]


@pytest.fixture(scope="module")
def base_run(prepared_small, tmp_path_factory):
    runs = tmp_path_factory.mktemp("base_runs")
    train(prepared_small, TrainConfig(epochs=1, seed=1, **TINY), runs_dir=runs, run_id="base")
    return runs / "base"


def test_a_run_starts_from_the_weights_it_names(prepared_small, base_run, tmp_path):
    seen = FirstWeights()
    config = TrainConfig(epochs=1, seed=2, init_model=str(base_run), **TINY)
    run = train(prepared_small, config, runs_dir=tmp_path, run_id="tuned", callbacks=[seen])
    base, _ = load_model(base_run)
    for a, b in zip(seen.weights, base.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    fresh = FirstWeights()
    train(prepared_small, TrainConfig(epochs=1, seed=2, **TINY), runs_dir=tmp_path,
          run_id="fresh", callbacks=[fresh])  # fmt: skip
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.weights, seen.weights, strict=True))
    env = json.loads((run.path / "environment.json").read_text())
    digest = sha256_file(base_run / "model.keras")
    assert any(digest in note for note in env["notes"]), env["notes"]
    assert TrainConfig.load(run.path / "config.json").init_model == str(base_run)


def test_a_different_unet_is_refused_by_name(prepared_small, base_run, tmp_path):
    config = TrainConfig(epochs=1, init_model=str(base_run), **{**TINY, "base_filters": 8})
    with pytest.raises(ConfigError, match=r"init_model .*base.*differs.*base_filters"):
        train(prepared_small, config, runs_dir=tmp_path, run_id="wrong")


def test_a_missing_init_model_fails_before_the_run_folder_exists(prepared_small, tmp_path):
    config = TrainConfig(epochs=1, init_model=str(tmp_path / "nope.keras"), **TINY)
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        train(prepared_small, config, runs_dir=tmp_path / "runs", run_id="missing")
    assert not (tmp_path / "runs" / "missing" / "config.json").exists()


def test_init_model_must_name_something():
    with pytest.raises(ConfigError, match="init_model"):
        TrainConfig(init_model="")


def test_the_command_line_flag():
    from segkit.cli import build_parser
    from segkit.commands.train import config_from_args

    args = build_parser().parse_args(["train", "DST", "--init-model", "segkit:nuclei"])
    assert config_from_args(args).init_model == "segkit:nuclei"
    assert TrainConfig.from_dict({"epochs": 2}).init_model is None  # older config.json files
