from __future__ import annotations

import json

import pytest

from segkit.training.config import ConfigError, TrainConfig


def test_json_round_trip(tmp_path):
    config = TrainConfig(epochs=3, batch_size=2, patch_size=64, depth=3, optimizer="sgd")
    assert TrainConfig.from_json(config.to_json()) == config
    path = config.save(tmp_path / "config.json")
    assert TrainConfig.load(path) == config
    assert json.loads(path.read_text())["patch_size"] == 64


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("batch_size", 1.5),
        ("learning_rate", 0),
        ("optimizer", "lbfgs"),
        ("loss", "mse"),
        ("patch_size", 60),
        ("augment", "yes"),
        ("mixed_precision", True),
        ("monitor", "accuracy"),
        ("dropout", 1.5),
        ("blur", 2.5),
        ("hue", -0.1),
        ("noise", 0.6),
        ("hematoxylin_fade", 0.95),
    ],
)
def test_validation_names_the_field(field, value):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        TrainConfig(**{field: value})


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="'epoch'"):
        TrainConfig.from_dict({"epoch": 3})


def test_load_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"epochs": -1}')
    with pytest.raises(ConfigError, match="bad.json.*'epochs'"):
        TrainConfig.load(path)


def test_replace_and_auto_loss():
    config = TrainConfig().replace(epochs=7)
    assert config.epochs == 7
    assert config.resolved_loss(2) == "bce_dice"
    assert config.resolved_loss(4) == "ce_dice"
    assert TrainConfig(loss="focal").resolved_loss(2) == "focal"


def test_augmentation_flags_of_the_command_line():
    from segkit.cli import build_parser
    from segkit.commands.train import config_from_args

    flags = ["--stain-jitter", "0.3", "--hue", "0.05", "--saturation", "0.2", "--blur", "1"]
    flags += ["--hematoxylin-fade", "0.4"]
    args = build_parser().parse_args(["train", "DST", *flags, "--noise", "0.02"])
    config = config_from_args(args)
    assert config.hematoxylin_fade == 0.4
    assert TrainConfig.from_dict({"epochs": 2}).hematoxylin_fade == 0.0
    assert (config.stain_jitter, config.hue, config.saturation) == (0.3, 0.05, 0.2)
    assert (config.blur, config.noise, config.brightness) == (1.0, 0.02, 0.1)
    assert TrainConfig.from_dict({"epochs": 2}).blur == 0.0  # older config.json files read as off
