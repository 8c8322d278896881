"""What training does on each Keras backend: input pipeline, distribution, devices, TensorBoard.

The backend is Keras's (``KERAS_BACKEND``, or ``~/.keras/keras.json``; TensorFlow by default),
read when Keras is first imported; segkit never chooses one.

=============  ==========================  ===================================  ============
backend        input pipeline              distribution                         TensorBoard
=============  ==========================  ===================================  ============
tensorflow     ``tf.data``                 ``tf.distribute`` (mirrored,         written
                                           multi-worker; :mod:`.distributed`)
jax            ``keras.utils.PyDataset``   ``keras.distribution.DataParallel``  not written
                                           over all devices when more than one
torch          ``keras.utils.PyDataset``   none: one device                     not written
=============  ==========================  ===================================  ============

Keras's TensorBoard callback writes through TensorFlow, so it runs only on the TensorFlow
backend; elsewhere the run's ``environment.json`` says why there is no ``tensorboard/``.
Multi-worker training (``TF_CONFIG``) needs TensorFlow and is refused elsewhere.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import keras

__all__ = [
    "BACKENDS",
    "StrategyInfo",
    "NoDistribution",
    "backend_name",
    "uses_tf_data",
    "tf_config_workers",
    "select_distribution",
    "jax_distribution",
    "backend_versions",
    "device_records",
    "tensorboard_note",
]

BACKENDS = ("tensorflow", "jax", "torch")


@dataclass(frozen=True)
class StrategyInfo:
    """The distribution chosen for a run.

    Attributes
    ----------
    strategy : object with ``scope()``
        A ``tf.distribute.Strategy``, a ``keras.distribution.DataParallel`` or
        :class:`NoDistribution`: models are built (and, off TensorFlow, trained) in its scope.
    kind : {'default', 'mirrored', 'multi_worker', 'data_parallel'}
    replicas : int
        Replicas in sync (devices over all workers).
    is_chief : bool
        This process writes the run folder (worker 0, or the only process).
    gpus : int
        GPUs visible to this process.
    worker : int
        This worker's position in ``TF_CONFIG`` (0 without it).
    """

    strategy: Any
    kind: str
    replicas: int
    is_chief: bool
    gpus: int
    worker: int = 0


class NoDistribution:
    """One device, no distribution: its ``scope()`` changes nothing."""

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        yield


def backend_name() -> str:
    """Keras's backend: ``'tensorflow'``, ``'jax'`` or ``'torch'``."""
    return str(keras.backend.backend())


def uses_tf_data() -> bool:
    """Whether training feeds ``tf.data`` and ``tf.distribute`` (only on TensorFlow)."""
    return backend_name() == "tensorflow"


def tf_config_workers() -> tuple[int, int]:
    """``(number of workers, this worker's index)`` from ``TF_CONFIG`` (``(1, 0)`` when unset).

    A ``chief`` task counts as worker 0 and shifts the ``worker`` tasks by one.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 1, 0
    try:
        data = json.loads(raw)
        cluster = data.get("cluster", {})
        task = data.get("task", {})
        chiefs = len(cluster.get("chief", []))
        workers = len(cluster.get("worker", []))
        index = int(task.get("index", 0))
        kind = task.get("type", "worker")
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON with 'cluster' and 'task' ({exc})") from None
    total = chiefs + workers
    position = index if kind == "chief" else chiefs + index
    return max(total, 1), position


def select_distribution() -> StrategyInfo:
    """The distribution for this process on Keras's backend (see the module's table)."""
    name = backend_name()
    if name == "tensorflow":
        from segkit.training.distributed import select_strategy

        return select_strategy()
    workers, _ = tf_config_workers()
    if workers > 1:
        raise ValueError(
            f"TF_CONFIG names {workers} workers, but multi-worker training needs the TensorFlow "
            f"backend (this is {name}); set KERAS_BACKEND=tensorflow or unset TF_CONFIG"
        )
    if name == "jax":
        import jax

        gpus = sum(d.platform == "gpu" for d in jax.devices())
        return jax_distribution(keras.distribution.list_devices(), gpus=gpus)
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return StrategyInfo(NoDistribution(), "default", 1, True, gpus)


def jax_distribution(devices: Sequence[str], *, gpus: int = 0) -> StrategyInfo:
    """Data parallelism over ``devices`` (``keras.distribution.list_devices()``) when there are
    several, else no distribution. Each batch is split evenly over the devices."""
    if len(devices) > 1:
        strategy = keras.distribution.DataParallel(devices=list(devices))
        return StrategyInfo(strategy, "data_parallel", len(devices), True, gpus)
    return StrategyInfo(NoDistribution(), "default", 1, True, gpus)


def _version(*distributions: str) -> str | None:
    for dist in distributions:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(dist)
    return None


def backend_versions() -> dict[str, str | None]:
    """``{"backend": name, "tensorflow": version or None, <backend>: version}``; TensorFlow's
    version is read from its installed metadata, without importing it."""
    name = backend_name()
    versions: dict[str, str | None] = {"backend": name}
    if name == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    else:
        versions["tensorflow"] = _version("tensorflow", "tensorflow-cpu", "tf-nightly")
        versions[name] = _version(name)
    return versions


def device_records() -> list[dict[str, str]]:
    """The devices the backend sees, as ``[{"name", "type"}]`` (type ``CPU``, ``GPU``, ...)."""
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return [{"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()]
    if name == "jax":
        import jax

        return [{"name": f"{d.platform}:{d.id}", "type": d.platform.upper()} for d in jax.devices()]
    import torch

    records = [{"name": "cpu:0", "type": "CPU"}]
    if torch.cuda.is_available():
        records += [
            {"name": f"cuda:{i} {torch.cuda.get_device_name(i)}", "type": "GPU"}
            for i in range(torch.cuda.device_count())
        ]
    return records


def tensorboard_note() -> str | None:
    """``None`` when the run writes TensorBoard logs, else the reason it does not."""
    name = backend_name()
    if name != "tensorflow":
        return (
            f"no tensorboard/: Keras's TensorBoard callback needs the TensorFlow backend ({name})"
        )
    if importlib.util.find_spec("tensorboard") is None:
        return "no tensorboard/: the tensorboard package is not installed"
    return None
