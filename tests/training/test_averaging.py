"""Weight averaging (``TrainConfig.ema``): the average is validated, kept and saved."""

from __future__ import annotations

import numpy as np
import pytest
from support import require_module

keras = require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from averaging_checks import AverageRecorder, check_averaged_run  # noqa: E402

from segkit.training import TrainConfig, train  # noqa: E402
from segkit.training.averaging import averaged_weights, has_average  # noqa: E402
from segkit.training.callbacks import TimeLimit  # noqa: E402
from segkit.training.config import ConfigError  # noqa: E402
from segkit.training.loop import make_optimizer  # noqa: E402

TINY = {"depth": 2, "base_filters": 4, "batch_size": 4, "sample_figures": 0, "patience": 0}


def _one_weight_model(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False)(inputs))
    model.compile(optimizer=optimizer, loss="mse")
    model.layers[-1].kernel.assign([[1.0]])
    return model


def test_the_average_and_the_swap_by_hand():
    model = _one_weight_model(keras.optimizers.SGD(1.0, use_ema=True, ema_momentum=0.5))
    kernel = model.layers[-1].kernel
    for grad in (1.0, 2.0):  # weights 0, then -2
        model.optimizer.apply_gradients([(keras.ops.convert_to_tensor([[grad]]), kernel)])
    # the first step sets the average to the weight (0); the second: 0.5 * 0 + 0.5 * -2
    assert has_average(model)
    assert float(keras.ops.convert_to_numpy(kernel)[0, 0]) == -2.0
    with averaged_weights(model) as inside:
        assert inside is model
        assert float(keras.ops.convert_to_numpy(kernel)[0, 0]) == -1.0
    assert float(keras.ops.convert_to_numpy(kernel)[0, 0]) == -2.0  # the raw weight is back
    with pytest.raises(ZeroDivisionError), averaged_weights(model):
        1 / 0  # noqa: B018
    assert float(keras.ops.convert_to_numpy(kernel)[0, 0]) == -2.0  # back after an error too


def test_without_an_average_nothing_is_swapped():
    model = _one_weight_model(keras.optimizers.SGD(1.0))
    assert not has_average(model)
    with averaged_weights(model):
        assert float(keras.ops.convert_to_numpy(model.layers[-1].kernel)[0, 0]) == 1.0
    assert not make_optimizer(TrainConfig()).use_ema
    optimizer = make_optimizer(TrainConfig(ema=0.99, optimizer="adamw"))
    assert optimizer.use_ema and optimizer.ema_momentum == 0.99


def test_a_run_validates_keeps_and_saves_the_average(prepared_small, tmp_path):
    recorder = AverageRecorder()
    config = TrainConfig(epochs=3, ema=0.9, **TINY)
    train(prepared_small, config, runs_dir=tmp_path, run_id="ema", callbacks=[recorder])
    found = check_averaged_run(tmp_path / "ema", recorder)
    assert found["to_average"] == 0.0  # the saved model is the best epoch's average
    assert found["to_raw"] > 1e-4  # ... not its raw weights
    assert found["val_loss"] < 1e-3, found  # the validated weights were the average


def test_an_interrupted_run_resumes_with_its_averages(prepared_small, tmp_path):
    config = TrainConfig(epochs=2, ema=0.9, **TINY)
    first = AverageRecorder()
    train(prepared_small, config, runs_dir=tmp_path, run_id="r", callbacks=[first, TimeLimit(0.0)])
    assert len(first.raw) == 1
    second = AverageRecorder()
    run = train(prepared_small, config, runs_dir=tmp_path, run_id="r", callbacks=[second])
    assert run.history["epoch"] == [1, 2] and second.steps_at_start > 0
    assert second.at_start is not None
    for a, b in zip(second.at_start, first.averages[0], strict=True):
        np.testing.assert_array_equal(a, b)  # the averages went into the checkpoint


def test_mixed_precision_averages_inside_the_loss_scale_wrapper(prepared_small, tmp_path):
    recorder = AverageRecorder()
    config = TrainConfig(epochs=1, ema=0.9, mixed_precision="on", **TINY)
    train(prepared_small, config, runs_dir=tmp_path, run_id="mixed", callbacks=[recorder])
    found = check_averaged_run(tmp_path / "mixed", recorder)
    assert found["to_average"] == 0.0 and found["to_raw"] > 1e-4, found


def test_the_config_field_and_the_flag():
    from segkit.cli import build_parser
    from segkit.commands.train import config_from_args

    with pytest.raises(ConfigError, match="'ema'"):
        TrainConfig(ema=1.0)
    with pytest.raises(ConfigError, match="'ema'"):
        TrainConfig(ema=-0.1)
    assert TrainConfig.from_dict({"epochs": 2}).ema == 0.0  # older config.json files
    assert TrainConfig.from_json(TrainConfig(ema=0.99).to_json()).ema == 0.99
    args = build_parser().parse_args(["train", "DST", "--ema", "0.995"])
    assert config_from_args(args).ema == 0.995
