"""``segkit demo`` runs every step of the life cycle and leaves each step's output behind."""

from __future__ import annotations

import json

import pytest

from segkit.cli import main


@pytest.mark.slow
def test_demo_runs_the_whole_life_cycle(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", str(out), "-n", "12", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    steps = ("1. synthetic", "3. inspect", "4. prepare", "5. train", "6. evaluate", "7. predict",
             "8. Ki-67")  # fmt: skip
    for step in steps:
        assert step in printed
    assert json.loads((out / "template.json").read_text())["height"] == 128
    manifest = json.loads((out / "prepared" / "manifest.json").read_text())
    assert len(manifest["pairs"]) == 12
    run = out / "runs" / "demo"
    for name in ("model.keras", "model.json", "history.csv", "evaluation/summary.json"):
        assert (run / name).is_file(), name
    assert (out / "predictions" / "slide_1024.png").is_file()
    assert (out / "predictions" / "slide_1024_overlay.png").is_file()
    assert "slide_1024.png (1024x1024, Dice " in printed
    assert "the generator's true index" in printed
    for name in ("summary.csv", "cells.csv", "slide_1024.geojson", "slide_1024_overlay.png"):
        assert (out / "ki67" / name).is_file(), name
