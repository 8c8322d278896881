"""Quiet TensorFlow's C++ start-up log lines, unless the user has chosen a level.

TensorFlow writes its oneDNN notice and absl/C++ INFO and WARNING lines straight to stderr
when it loads, before Python's logging can intervene; in a notebook they show as red blocks.
Both variables below are read once, when TensorFlow loads, so they must be set before the
first ``import tensorflow`` (``import keras`` loads TensorFlow too): ``segkit/__init__.py``
calls :func:`quiet_tensorflow_logs`, which Python runs before any segkit sub-package.
"""

from __future__ import annotations

import os

__all__ = ["TF_LOG_DEFAULTS", "quiet_tensorflow_logs"]

#: Defaults for TensorFlow's environment variables; a value the user has set is kept.
#: ``TF_CPP_MIN_LOG_LEVEL=2`` keeps C++ errors and hides INFO and WARNING lines.
#: ``TF_ENABLE_ONEDNN_OPTS=0`` turns off oneDNN's custom CPU operations, whose notice
#: TensorFlow prints at every start whatever the log level; set it to 1 to keep them.
TF_LOG_DEFAULTS: dict[str, str] = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def quiet_tensorflow_logs() -> None:
    """Set each of :data:`TF_LOG_DEFAULTS` that is not already set in ``os.environ``."""
    for name, value in TF_LOG_DEFAULTS.items():
        os.environ.setdefault(name, value)
