"""Training: the configuration, the input pipeline and the training loop."""

from segkit.training.config import ConfigError, TrainConfig

__all__ = ["ConfigError", "TrainConfig"]
