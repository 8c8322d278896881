"""Train with ``segkit.train`` on the Keras backend of ``KERAS_BACKEND``, with TensorFlow hidden.

Run by ``test_backends.py`` in a fresh process (a backend is chosen when Keras is imported)::

    KERAS_BACKEND=jax python train_on_backend.py PREPARED INSTANCES RUNS OUT.json

TensorFlow and TensorBoard cannot be imported here, as on a machine without them. It trains

- ``complete``: 2 epochs on ``PREPARED``;
- ``resumed``: 2 epochs on ``PREPARED``, stopped after epoch 1 by a ``TimeLimit``, then
  trained again with the same run id (it continues at epoch 2);
- ``instances``: 1 epoch on ``INSTANCES`` (``target="instances"``), when given (not ``-``);
- ``mixed``: 1 epoch under the ``mixed_float16`` policy;
- ``averaged``: 2 epochs with weight averaging (``ema``), checked by ``averaging_checks``;
- ``from_tf``: when the parent started that run on TensorFlow, its remaining epoch;

and writes to ``OUT.json`` what the parent test checks: epochs seen, optimizer steps, the
distribution chosen and whether TensorFlow was imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import sys
import time
from pathlib import Path


class _Hidden(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds TensorFlow and TensorBoard (a spec without an origin, so probes such as PyTorch's
    dynamo skip them) and fails to load them; never puts them in ``sys.modules`` (Keras asks
    whether TensorFlow is loaded there)."""

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201
        if name.split(".")[0] in ("tensorflow", "tensorboard"):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):  # noqa: ANN001, ANN201
        raise ImportError(f"{spec.name} is hidden from this process")

    def exec_module(self, module):  # noqa: ANN001, ANN201
        raise ImportError(f"{module.__name__} is hidden from this process")


sys.meta_path.insert(0, _Hidden())

import keras  # noqa: E402
from averaging_checks import AverageRecorder, check_averaged_run  # noqa: E402

from segkit.training import TrainConfig, train  # noqa: E402
from segkit.training.backends import select_distribution  # noqa: E402
from segkit.training.callbacks import TimeLimit  # noqa: E402

TINY = {"depth": 2, "base_filters": 4, "batch_size": 4, "sample_figures": 2, "patience": 0}


class Recorder(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[int] = []
        self.steps_at_start = -1

    def on_train_begin(self, logs=None):  # noqa: ANN001
        self.steps_at_start = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001
        self.epochs.append(epoch)


def main() -> None:
    prepared, instances, runs, out = sys.argv[1:5]
    started = time.perf_counter()
    result: dict = {"backend": keras.backend.backend()}
    info = select_distribution()
    result["distribution"] = [info.kind, info.replicas, type(info.strategy).__name__]
    config = TrainConfig(epochs=2, **TINY)
    train(prepared, config, runs_dir=runs, run_id="complete")
    first = Recorder()
    train(prepared, config, runs_dir=runs, run_id="resumed", callbacks=[first, TimeLimit(0.0)])
    second = Recorder()
    train(prepared, config, runs_dir=runs, run_id="resumed", callbacks=[second])
    result["resumed"] = {
        "first": first.epochs,
        "second": second.epochs,
        "steps_at_resume": second.steps_at_start,
    }
    if instances != "-":
        train(instances, config.replace(epochs=1), runs_dir=runs, run_id="instances")
    mixed = config.replace(epochs=1, mixed_precision="on")
    train(prepared, mixed, runs_dir=runs, run_id="mixed")
    recorder = AverageRecorder()
    averaged = config.replace(ema=0.9)
    train(prepared, averaged, runs_dir=runs, run_id="averaged", callbacks=[recorder])
    result["averaged"] = check_averaged_run(Path(runs) / "averaged", recorder)
    if (Path(runs) / "from_tf").is_dir():
        other = Recorder()
        train(prepared, config, runs_dir=runs, run_id="from_tf", callbacks=[other])
        result["from_tf"] = {"epochs": other.epochs, "steps_at_resume": other.steps_at_start}
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    result["seconds"] = round(time.perf_counter() - started, 1)
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
