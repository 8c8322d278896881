from __future__ import annotations

import numpy as np
from support import require_module

require_module("ipywidgets", "the notebooks extra: pip install -e '.[notebooks]'")
keras = require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")

from segkit.widgets import TrainingMonitor  # noqa: E402


def test_monitor_draws_during_fit():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((16, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    monitor = TrainingMonitor(("loss", "mae"), every_batches=1, display=False)
    drawn = []
    monitor.image.observe(lambda change: drawn.append(len(change["new"])), names="value")
    model.fit(x, y, validation_split=0.25, epochs=3, batch_size=4, verbose=0, callbacks=[monitor])
    assert len(drawn) == 3  # one redraw per epoch
    assert monitor.image.value[:4] == b"\x89PNG"
    assert len(monitor.history["loss"]) == 3 and len(monitor.history["val_mae"]) == 3
    assert monitor.label.value.startswith("epoch 3/3 - loss")
    assert monitor.label.value.endswith("done")
