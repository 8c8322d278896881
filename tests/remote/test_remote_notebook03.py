"""End to end: notebooks/03_train_unet.ipynb trained on the local sshd, the run comes home and
loads."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from segkit.remote import run_remote_notebook

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_train_unet.ipynb"

pytestmark = [pytest.mark.remote, pytest.mark.slow, pytest.mark.notebook]


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """A tiny prepared data set (8 synthetic 32x32 pairs)."""
    from segkit import DatasetTemplate
    from segkit.dataset import prepare_dataset
    from segkit.synthetic import make_synthetic_dataset

    source = make_synthetic_dataset(tmp_path / "source", 8, height=32, width=32, seed=3)
    dst = tmp_path / "prepared"
    prepare_dataset(source, dst, DatasetTemplate(height=32, width=32), progress=False, workers=1)
    return dst


def test_train_unet_notebook_runs_remotely_and_the_run_loads(
    sshd, remote_config, prepared, tmp_path, fake_provisioner
):
    assert NOTEBOOK.is_file(), f"{NOTEBOOK} is missing"
    fake = fake_provisioner(tmp_path / "marker", ready_after=0.0)
    out = tmp_path / "remote_out"
    stream = io.StringIO()
    result = run_remote_notebook(
        NOTEBOOK,
        out,
        parameters={
            "output_dir": "{output}",
            "epochs": 1,
            "batch_size": 4,
            "depth": 2,
            "base_filters": 4,
            "seed": 1,
        },
        data_dir=prepared,  # uploaded; the notebook's data_dir parameter points at the copy
        provisioner=fake,
        config=remote_config,
        log=lambda line: None,
        stream=stream,
    )
    assert fake.calls == ["up", "destroy"]
    assert result.ok, stream.getvalue()[-3000:]
    assert result.executed_notebook == out / NOTEBOOK.name
    assert result.parameters["data_dir"].endswith("/data/prepared")
    (run_dir,) = result.run_dirs
    assert run_dir.parent == out / "runs"

    from segkit.models import load_model
    from segkit.runs import load_run

    run = load_run(run_dir)
    assert run.config.epochs == 1 and run.config.base_filters == 4
    assert len(run.history["loss"]) == 1
    model, info = load_model(run.model_path)
    image = np.zeros((1, 32, 32, 3), dtype=np.float32)
    assert model.predict(image, verbose=0).shape[:3] == (1, 32, 32)
    assert info.num_classes == 2
    executed = json.loads(result.executed_notebook.read_text())
    assert not any(
        o.get("output_type") == "error" for c in executed["cells"] for o in c.get("outputs", [])
    )
