"""Positive / negative classification of measured nuclei: a registry of classifiers.

Every classifier is a small frozen dataclass with ``classify(table, labels)`` returning a
:class:`Classification`; :data:`CLASSIFIERS` maps its name to its class and
:func:`make_classifier` builds one by name. A new variant is one class and one
``@register_classifier`` line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
from scipy import ndimage

from segkit.ki67.measure import NucleusTable

__all__ = [
    "CLASSIFIERS",
    "NEGATIVE",
    "POSITIVE",
    "Classification",
    "LearnedClassifier",
    "NucleusClassifier",
    "ThresholdClassifier",
    "intensity_bins",
    "learned_classifier",
    "make_classifier",
    "register_classifier",
]

POSITIVE = "Positive"
NEGATIVE = "Negative"
#: QuPath's DAB OD thresholds for 1+ / 2+ / 3+.
DEFAULT_BINS = (0.2, 0.4, 0.6)


@dataclass(frozen=True)
class Classification:
    """Per-nucleus results, in the row order of the :class:`NucleusTable`.

    ``classes`` holds ``"Positive"`` / ``"Negative"``; ``bins`` the intensity bin
    0 (negative), 1 (1+), 2 (2+) or 3 (3+).
    """

    classes: np.ndarray
    bins: np.ndarray

    def __len__(self) -> int:
        return len(self.classes)


class NucleusClassifier(Protocol):
    """What :func:`segkit.ki67.score.score_ki67_labels` calls."""

    def classify(self, table: NucleusTable, labels: np.ndarray) -> Classification: ...


CLASSIFIERS: dict[str, type] = {}
_C = TypeVar("_C", bound=type)


def register_classifier(name: str) -> Callable[[_C], _C]:
    """Class decorator: make the classifier available as ``make_classifier(name)``."""

    def add(cls: _C) -> _C:
        if name in CLASSIFIERS:
            raise ValueError(f"a classifier called {name!r} is already registered")
        CLASSIFIERS[name] = cls
        return cls

    return add


def make_classifier(name: str, **options: Any) -> NucleusClassifier:
    """The classifier registered as ``name``, built with ``options``."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; expected one of {', '.join(CLASSIFIERS)}")
    classifier: NucleusClassifier = CLASSIFIERS[name](**options)
    return classifier


def _check_bins(bins: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(b) for b in bins)
    if len(values) != 3 or not all(np.isfinite(values)) or not values[0] < values[1] < values[2]:
        raise ValueError(f"bins: expected three increasing DAB OD thresholds, got {bins!r}")
    return values  # type: ignore[return-value]


def intensity_bins(dab_od: np.ndarray, bins: Sequence[float] = DEFAULT_BINS) -> np.ndarray:
    """0 / 1 / 2 / 3 for ``dab_od`` below ``bins[0]``, ``>= bins[0]``, ``>= bins[1]``,
    ``>= bins[2]`` (QuPath's 1+ / 2+ / 3+ semantics); NaN is 0."""
    values = np.asarray(dab_od, dtype=np.float64)
    out = np.searchsorted(np.asarray(_check_bins(bins)), values, side="right")
    out[~np.isfinite(values)] = 0
    return out.astype(np.int8)


@register_classifier("threshold")
@dataclass(frozen=True)
class ThresholdClassifier:
    """QuPath's rule: Positive when the nucleus' mean DAB OD is ``>= threshold``.

    Parameters
    ----------
    threshold : float
        DAB OD (default 0.2, QuPath's default, equal to the 1+ threshold).
    bins : (3,) tuple of float
        DAB OD thresholds of 1+ / 2+ / 3+ (default 0.2 / 0.4 / 0.6). A Positive nucleus
        below ``bins[0]`` (a threshold below the first bin) counts as 1+.
    """

    threshold: float = 0.2
    bins: tuple[float, float, float] = DEFAULT_BINS

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold):
            raise ValueError(f"threshold: expected a finite DAB OD, got {self.threshold!r}")
        object.__setattr__(self, "bins", _check_bins(self.bins))

    def classify(self, table: NucleusTable, labels: np.ndarray) -> Classification:
        positive = np.asarray(table.dab_od_mean) >= self.threshold
        return _result(positive, table.dab_od_mean, self.bins)


@register_classifier("learned")
@dataclass(frozen=True)
class LearnedClassifier:
    """The class of each nucleus from a segmentation model's per-pixel classes.

    Parameters
    ----------
    class_map : (M, N) int ndarray or (M, N, C) float ndarray
        Class indices, or class probabilities (their argmax is taken).
    negative_class, positive_class : int
        The class indices of negative and positive nuclei (0 is background).
    bins : (3,) tuple of float
        DAB OD thresholds for the intensity bins of Positive nuclei (a Positive nucleus
        is at least 1+; a Negative one is 0).

    Notes
    -----
    Majority vote of the nucleus' pixels between the positive and the negative class;
    background pixels do not vote. A tie, or a nucleus without a nucleus-class pixel, is
    Negative.
    """

    class_map: np.ndarray = field(repr=False)
    negative_class: int = 1
    positive_class: int = 2
    bins: tuple[float, float, float] = DEFAULT_BINS

    def __post_init__(self) -> None:
        arr = np.asarray(self.class_map)
        if arr.ndim == 3:
            arr = np.argmax(arr, axis=-1)
        elif arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                "class_map: expected (M, N) class indices or (M, N, C) class probabilities, "
                f"got {arr.dtype} {arr.shape}"
            )
        if self.negative_class == self.positive_class:
            raise ValueError("negative_class and positive_class must differ")
        object.__setattr__(self, "class_map", arr)
        object.__setattr__(self, "bins", _check_bins(self.bins))

    def classify(self, table: NucleusTable, labels: np.ndarray) -> Classification:
        if self.class_map.shape != np.shape(labels):
            raise ValueError(
                f"class_map of shape {self.class_map.shape} does not match "
                f"labels of shape {np.shape(labels)}"
            )
        if len(table) == 0:
            return _result(np.zeros(0, dtype=bool), table.dab_od_mean, self.bins)
        pos = ndimage.sum_labels(self.class_map == self.positive_class, labels, table.id)
        neg = ndimage.sum_labels(self.class_map == self.negative_class, labels, table.id)
        return _result(np.asarray(pos) > np.asarray(neg), table.dab_od_mean, self.bins)


def learned_classifier(proba: np.ndarray, class_names: Sequence[str]) -> LearnedClassifier:
    """A :class:`LearnedClassifier` from a model's ``(M, N, K)`` probabilities.

    ``class_names`` must include ``negative`` and ``positive`` (any case); each pixel votes
    for whichever of the two is more probable.
    """
    names = [n.lower() for n in class_names]
    try:
        negative, positive = names.index("negative"), names.index("positive")
    except ValueError:
        raise ValueError(
            "classifier 'learned' needs a model whose classes include 'negative' and "
            f"'positive'; this model has {', '.join(class_names)}"
        ) from None
    pair = np.stack([proba[..., negative], proba[..., positive]], axis=-1)
    class_map = np.where(np.argmax(pair, axis=-1) == 1, positive, negative).astype(np.int64)
    return LearnedClassifier(class_map, negative_class=negative, positive_class=positive)


def _result(positive: np.ndarray, dab_od: np.ndarray, bins: Sequence[float]) -> Classification:
    positive = np.asarray(positive, dtype=bool)
    bin_ = np.where(positive, np.maximum(intensity_bins(dab_od, bins), 1), 0).astype(np.int8)
    classes = np.where(positive, POSITIVE, NEGATIVE).astype(object)
    return Classification(classes, bin_)
