"""The Ki-67 explorer: the threshold slider re-classifies without running the model."""

from __future__ import annotations

import numpy as np
from support import require_module

require_module("ipywidgets", "the notebooks extra: pip install -e '.[notebooks]'")

from segkit.ki67 import score_ki67_classical  # noqa: E402
from segkit.synthetic import make_synthetic_sample  # noqa: E402
from segkit.widgets.ki67_explorer import Ki67Explorer  # noqa: E402
from segkit.widgets.logic.ki67_explorer import dab_values, reclassify, summary_text  # noqa: E402


def _scored():
    sample = make_synthetic_sample(160, 160, seed=4, density=1.5, positive_fraction=0.5)
    return sample.image, score_ki67_classical(sample.image)


def test_reclassify_moves_nuclei_between_classes_only() -> None:
    _, score = _scored()
    low, high = reclassify(score, -10.0), reclassify(score, 5.0)  # OD can be below 0
    assert low.summary.positive == low.summary.total == score.summary.total
    assert high.summary.positive == 0 and high.summary.negative == score.summary.total
    np.testing.assert_array_equal(low.labels, score.labels)  # the nuclei stay
    assert len(dab_values({"a": score})) == score.summary.total
    assert "index" in summary_text("a", score)


def test_slider_updates_counts() -> None:
    image, score = _scored()
    explorer = Ki67Explorer({"a": image}, {"a": score}, display=False)
    explorer.slider.value = 0.0
    assert explorer.scores["a"].summary.positive >= score.summary.positive
    assert "a: " in explorer.text.value and explorer.histogram.value and explorer.picture.value
    explorer.slider.value = 5.0
    assert explorer.scores["a"].summary.positive == 0
