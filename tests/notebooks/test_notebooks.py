"""Every notebook runs top to bottom: under papermill with small injected parameters, then the
executed notebook (parameters included) again under ``pytest --nbval-lax``.

A failing cell fails the test with the cell's source and its error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import REPO_ROOT, require_module

papermill = require_module("papermill", "the notebooks extra: pip install -e '.[notebooks]'")

NOTEBOOKS = REPO_ROOT / "notebooks"
ALL = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))

# Small parameters: each notebook runs in seconds on the synthetic data.
TINY: dict[str, dict[str, Any]] = {
    "01_dataset_template": {"write_now": True, "template_path": "template.json", "width": 128},
    "02_prepare_and_inspect": {"n_images": 12, "image_size": 64, "output_dir": "output"},
    "03_train_unet": {
        "epochs": 1,
        "n_images": 12,
        "image_size": 64,
        "depth": 2,
        "base_filters": 4,
        "stain_normalisation": "reinhard",
        "output_dir": "output",
    },
    "04_evaluate_and_visualize": {
        "epochs": 1,
        "n_images": 12,
        "image_size": 64,
        "large_image_size": 160,
        "output_dir": "output",
    },
    "05_remote_gpu_run": {"dry_run": True, "epochs": 1},
    "06_ki67_scoring": {"n_synthetic": 2, "tile_size": 160, "output_dir": "output"},
    "07_whole_slide": {
        "slide_size": [2000, 1400],
        "model": "",
        "epochs": 1,
        "n_images": 8,
        "image_size": 64,
        "output_dir": "output",
    },
}

pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.timeout(300)]


def _cell_error(nb_path: Path) -> str:
    """The source and error of the first failing cell of an executed notebook."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                src = "".join(cell["source"])
                return f"cell:\n{src}\n{out['ename']}: {out['evalue']}"
    return "no failing cell found"


def _check_outputs(name: str, work: Path) -> None:
    """What each notebook must have written."""
    if name == "01_dataset_template":
        data = json.loads((work / "template.json").read_text())
        assert data["width"] == 128
    elif name == "02_prepare_and_inspect":
        assert (work / "output" / "prepared" / "manifest.json").is_file()
    elif name == "06_ki67_scoring":
        rows = (work / "output" / "ki67" / "summary.csv").read_text().splitlines()
        assert len(rows) == 3 and rows[0].startswith("image,positive,negative,total,ki67_index")
        assert (work / "output" / "ki67" / "synthetic_0.geojson").is_file()
    elif name == "07_whole_slide":
        from segkit.slides import mask_level_sizes

        slides = work / "output" / "slides"
        assert mask_level_sizes(slides / "masks" / "synthetic.ome.tif")[0] == (2000, 1400)
        assert (slides / "synthetic_tissue.png").is_file()
        assert list(slides.glob("synthetic_overlay_level*.png")), "no overlay written"
        assert "hotspot_ki67_index" in (slides / "ki67" / "summary.csv").read_text()
        assert (slides / "ki67" / "synthetic_ki67_heatmap.png").is_file()
    elif name in ("03_train_unet", "04_evaluate_and_visualize"):
        runs = [p.parent for p in (work / "output" / "runs").glob("*/model.keras")]
        assert runs, "no run folder with model.keras under output/runs"
        if name == "03_train_unet":  # the notebook's stain_normalisation reached the model
            info = json.loads((runs[0] / "model.json").read_text())
            assert info["stain_normalisation"]["method"] == "reinhard", info
        if name == "04_evaluate_and_visualize":
            assert list((work / "output").rglob("per_image.csv")) or list(
                (work / "output").rglob("evaluation*.json")
            ), "no evaluation written"


def test_notebooks_are_committed_clean():
    assert ALL, "no notebooks found"
    for name in ALL:
        nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
            f"{name}: commit it without outputs (nbstripout)"
        )
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{name}: expected one cell tagged 'parameters'"
        assert name in TINY, f"{name}: add its small test parameters to TINY"


@pytest.mark.parametrize("name", ALL)
def test_notebook_runs_under_papermill_and_nbval(name, tmp_path):
    work = tmp_path / "papermill"
    work.mkdir()
    executed = work / f"{name}.ipynb"
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"),
            str(executed),
            parameters=TINY[name],
            cwd=str(work),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=240,
        )
    except papermill.PapermillExecutionError:
        pytest.fail(f"{name} failed under papermill\n{_cell_error(executed)}", pytrace=False)
    _check_outputs(name, work)

    # nbval runs the executed notebook again (its injected parameters included), in a clean
    # folder, and fails on any cell that raises.
    lax = tmp_path / "nbval"
    lax.mkdir()
    shutil.copy(executed, lax / executed.name)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-cell-timeout=240",
            executed.name,
        ],
        cwd=lax,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    if proc.returncode != 0:
        pytest.fail(f"{name} failed under nbval-lax\n{proc.stdout[-4000:]}", pytrace=False)
