"""segkit: from a messy folder of biomedical images and masks to a trained, evaluated U-Net.

The top-level namespace is light: it imports no deep-learning framework. Import the
sub-packages (``segkit.models``, ``segkit.training``, ...) for the heavy parts. Importing
segkit quiets TensorFlow's C++ start-up log lines (its oneDNN notice included, with oneDNN's
kernels left on) unless ``TF_CPP_MIN_LOG_LEVEL`` is already set to 0 (see ``segkit._tf``).
"""

from __future__ import annotations

try:
    from segkit._version import version as __version__
except ImportError:  # pragma: no cover - running from a source tree without a build
    __version__ = "0.1.0.dev0"

from segkit._tf import quiet_tensorflow_logs
from segkit.synthetic import make_synthetic_dataset, make_synthetic_sample
from segkit.template import (
    ClassSpec,
    DatasetTemplate,
    SplitSpec,
    TemplateError,
    load_template,
    save_template,
)

# Runs before any segkit sub-package can import TensorFlow or Keras (none of the above does).
quiet_tensorflow_logs()

__all__ = [
    "__version__",
    "ClassSpec",
    "DatasetTemplate",
    "SplitSpec",
    "TemplateError",
    "load_template",
    "save_template",
    "make_synthetic_dataset",
    "make_synthetic_sample",
]
