"""The logic of :class:`segkit.widgets.Ki67Explorer`: re-classify measured nuclei at a new
DAB threshold, without running the model again, and describe the result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

__all__ = ["reclassify", "summary_text", "dab_values"]


def reclassify(score: Any, threshold: float) -> Any:
    """``score`` (an :class:`segkit.ki67.ImageScore`) classified again at ``threshold``.

    The nuclei, their measurements and the intensity bins' limits stay; only the Positive /
    Negative rule (mean DAB OD >= threshold) and what follows from it change.
    """
    from segkit.ki67.classify import ThresholdClassifier
    from segkit.ki67.summary import summarize_ki67

    classes = ThresholdClassifier(threshold=float(threshold)).classify(
        score.measurements, score.labels
    )
    return replace(score, classification=classes, summary=summarize_ki67(classes))


def dab_values(scores: Mapping[str, Any]) -> np.ndarray:
    """Mean DAB optical density of every nucleus of every image, for one histogram."""
    parts = [np.asarray(s.measurements.dab_od_mean, dtype=float) for s in scores.values()]
    return np.concatenate(parts) if parts else np.zeros(0)


def summary_text(name: str, score: Any) -> str:
    """``"NAME: 120 positive / 380 negative, index 24.0 % (95 % CI 20.4-28.0)"`` (+ warning)."""
    s = score.summary
    text = (
        f"{name}: {s.positive} positive / {s.negative} negative, index {s.ki67_index:.1f} % "
        f"(95 % CI {s.ki67_ci_low:.1f}-{s.ki67_ci_high:.1f}), H-score {s.h_score:.0f}"
    )
    return f"{text}; {s.warning}" if s.warning else text
