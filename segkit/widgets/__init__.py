"""Jupyter widgets: thin ipywidgets front ends over segkit's functions.

Imported lazily, so ``segkit.widgets.logic`` works without ipywidgets and the widgets that
need Keras import it only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "TemplateForm",
    "DatasetBrowser",
    "TrainingMonitor",
    "PredictionViewer",
    "Ki67Explorer",
]

_WHERE = {
    "TemplateForm": "segkit.widgets.template_form",
    "DatasetBrowser": "segkit.widgets.dataset_browser",
    "TrainingMonitor": "segkit.widgets.training_monitor",
    "PredictionViewer": "segkit.widgets.prediction_viewer",
    "Ki67Explorer": "segkit.widgets.ki67_explorer",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'segkit.widgets' has no attribute {name!r}")
