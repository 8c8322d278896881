"""The nucleus model's threshold chooser: the rule that picks, and the file it writes."""

from __future__ import annotations

import sys

from support import REPO_ROOT

from segkit.models.saving import ModelInfo

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from choose_nuclei_threshold import best_threshold, write_threshold  # noqa: E402


def test_best_threshold_takes_the_highest_f1_then_the_higher_aji():
    table = {
        0.5: {"aji": 0.55, "pq": 0.52, "f1": 0.70},
        0.6: {"aji": 0.56, "pq": 0.53, "f1": 0.72},
        0.7: {"aji": 0.58, "pq": 0.53, "f1": 0.72},
        0.8: {"aji": 0.60, "pq": 0.50, "f1": 0.69},
    }
    assert best_threshold(table) == 0.7
    table[0.8]["f1"] = 0.73
    assert best_threshold(table) == 0.8


def test_write_threshold_changes_only_the_threshold(tmp_path):
    names = ("background", "negative", "positive", "boundary")
    info = ModelInfo(
        input_shape=(256, 256, 3), num_classes=4, class_names=names, target="instances", mpp=0.4
    )
    (tmp_path / "model.json").write_text(info.to_json(), encoding="utf-8")
    write_threshold(tmp_path, 0.7)
    after = ModelInfo.from_json((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert after.threshold == 0.7
    assert after.replace(threshold=0.5) == info.replace(threshold=0.5)
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically, nothing left beside it
