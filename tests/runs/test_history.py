"""history.csv: one reader, one writer, and the rule for cells without a value."""

from __future__ import annotations

import math

import pytest

from segkit.runs import read_history, write_history


def test_cells_without_a_value_read_as_nan(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_loss\n"
        "1,0.9,\n"  # blank: not logged this epoch
        "2,nan,0.7\n"  # logged NaN
        "3,oops\n"  # short row, and not a number
        "4,0.5,0.4,extra\n"  # cells beyond the header are ignored
    )
    history = read_history(tmp_path)  # the run folder works as well as the file
    assert list(history) == ["epoch", "loss", "val_loss"]
    assert history["epoch"] == [1, 2, 3, 4] and all(isinstance(e, int) for e in history["epoch"])
    assert [math.isnan(v) for v in history["loss"]] == [False, True, True, False]
    assert [math.isnan(v) for v in history["val_loss"]] == [True, False, True, False]
    assert history["val_loss"][1] == pytest.approx(0.7)  # columns stay aligned with epoch


def test_write_then_read(tmp_path):
    rows = [
        {"epoch": 1, "loss": 0.8},
        {"epoch": 2, "loss": float("nan"), "val_dice": 0.5},
    ]
    path = write_history(tmp_path / "run", rows)
    assert path == tmp_path / "run" / "history.csv"
    assert path.read_text() == "epoch,loss,val_dice\n1,0.8,\n2,nan,0.5\n"
    history = read_history(path)
    assert history["epoch"] == [1, 2]
    assert history["loss"][0] == 0.8 and math.isnan(history["loss"][1])
    assert math.isnan(history["val_dice"][0]) and history["val_dice"][1] == 0.5


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such history file"):
        read_history(tmp_path / "missing.csv")
    bad = tmp_path / "history.csv"
    bad.write_text("epoch,loss\n1,0.5\n,0.4\n")
    with pytest.raises(ValueError, match=r"history\.csv, line 3: 'epoch'"):
        read_history(bad)


def test_viz_reads_history_through_the_same_reader(tmp_path):
    from segkit import viz

    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n1,0.9,\n2,0.6,0.7\n")
    history = viz.load_history(tmp_path)
    assert history["loss"] == [0.9, 0.6]
    assert math.isnan(history["val_loss"][0]) and history["val_loss"][1] == 0.7
