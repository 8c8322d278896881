"""Training: the configuration, the input pipelines and the training loop, on any Keras backend.

``TrainConfig`` and ``ensure_run`` import without TensorFlow. ``train`` runs on Keras's backend:
on TensorFlow it loads the ``tf.data`` pipeline (``make_dataset``) and ``tf.distribute``; on JAX
and PyTorch it feeds a ``keras.utils.PyDataset`` (:mod:`segkit.training.pydataset`) and never
imports TensorFlow (:mod:`segkit.training.backends`). Training writes run folders through
:mod:`segkit.runs`.
"""

from __future__ import annotations

from typing import Any

from segkit.training.config import ConfigError, TrainConfig
from segkit.training.ensure import ensure_run

__all__ = ["ConfigError", "TrainConfig", "train", "ensure_run", "make_dataset"]

_LAZY = {"train": "segkit.training.loop", "make_dataset": "segkit.training.pipeline"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'segkit.training' has no attribute {name!r}")
