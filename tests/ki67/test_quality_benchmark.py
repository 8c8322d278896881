"""benchmarks/quality_ki67.py runs on real images and gives finite numbers."""

from __future__ import annotations

import importlib.util
import math

import pytest
from support import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "quality_ki67", REPO_ROOT / "benchmarks" / "quality_ki67.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_matcher_is_one_to_one_within_the_radius():
    import numpy as np

    match = _benchmark().match_points
    detected = np.array([[0.0, 0.0], [5.0, 0.0], [100.0, 100.0]])
    truth = np.array([[1.0, 0.0], [4.0, 0.0], [50.0, 50.0]])
    assert sorted(match(detected, truth, 10.0)) == [(0, 0), (1, 1)]
    assert match(detected[:1], truth[:2], 10.0) == [(0, 0)]
    assert match(detected[:0], truth, 10.0) == []


def test_quality_benchmark_on_three_images(shared_data, capsys):
    result = _benchmark().main(["--data", str(shared_data), "--limit", "3", "--glioma-limit", "1"])
    assert len(result["shidc"]) == 3 and len(result["glioma"]) == 1
    for row in result["shidc"] + result["glioma"]:
        for key in ("index", "index_true", "abs_err"):
            assert math.isfinite(row[key]) and 0 <= row[key] <= 100
    for row in result["shidc"]:
        assert 0 <= row["f1"] <= 1 and row["detected"] > 0
    assert "index_mae" in capsys.readouterr().out
