"""A cell filter: which nuclei are tumour cells, and so count in the Ki-67 index.

A segmentation model finds every nucleus; the Ki-67 index counts tumour cells only. A
:class:`CellFilter` is a small multinomial logistic regression on the per-nucleus features of
:func:`segkit.ki67.cellfeatures.cell_features` (standardised), with classes such as
``tumour`` / ``lymphocyte`` / ``other``; the nuclei of its ``keep`` classes are counted, the
others are dropped before the positive / negative classification. It is what a QuPath user
does with an object classifier, and it is saved as a small JSON file (feature names, scaler,
weights). :func:`load_cell_filter` reads a path or a shipped ``segkit:NAME``;
:func:`fit_cell_filter` trains one from labelled nuclei.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segkit.ki67.cellfeatures import CELL_FEATURES, cell_features
from segkit.stain import H_DAB, StainVectors

__all__ = [
    "CELL_FILTER_FORMAT",
    "CellFilter",
    "apply_cell_filter",
    "bundled_cell_filters",
    "fit_cell_filter",
    "load_cell_filter",
]

CELL_FILTER_FORMAT = "segkit-cell-filter"
_VERSION = 1
_PREFIX = "segkit:"
_SUFFIX = ".cellfilter.json"


def _matrix(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected numbers") from None
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite numbers of shape {shape}, got {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class CellFilter:
    """Multinomial logistic regression from nucleus features to cell classes.

    Parameters
    ----------
    classes : tuple of str
        The cell classes (e.g. ``("tumour", "lymphocyte", "other")``).
    keep : tuple of str
        The classes counted in the Ki-67 index (a subset of ``classes``).
    features : tuple of str
        Feature names, a subset of :data:`~segkit.ki67.cellfeatures.CELL_FEATURES`.
    mean, scale : (F,) ndarray
        Standardisation: ``z = (x - mean) / scale``.
    weights : (F, C) ndarray
    bias : (C,) ndarray
    min_probability : float
        A nucleus is kept when the summed probability of the ``keep`` classes is at least this.
    info : dict
        Free text about the training (data, licence, recipe); kept in the JSON.
    """

    classes: tuple[str, ...]
    keep: tuple[str, ...]
    features: tuple[str, ...]
    mean: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)
    min_probability: float = 0.5
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        classes, keep, feats = tuple(self.classes), tuple(self.keep), tuple(self.features)
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise ValueError(f"classes: expected two or more distinct names, got {classes!r}")
        if not keep or not set(keep) <= set(classes):
            raise ValueError(f"keep: expected some of the classes {classes!r}, got {keep!r}")
        unknown = [f for f in feats if f not in CELL_FEATURES]
        if not feats or unknown:
            raise ValueError(
                f"features: unknown {unknown or 'none given'}; known: {', '.join(CELL_FEATURES)}"
            )
        f, c = len(feats), len(classes)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "keep", keep)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "mean", _matrix(self.mean, (f,), "mean"))
        scale = _matrix(self.scale, (f,), "scale")
        if not np.all(scale > 0):
            raise ValueError("scale: expected numbers > 0")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "weights", _matrix(self.weights, (f, c), "weights"))
        object.__setattr__(self, "bias", _matrix(self.bias, (c,), "bias"))
        p = self.min_probability
        if not (isinstance(p, int | float) and 0.0 <= p <= 1.0):
            raise ValueError(f"min_probability: expected a number in [0, 1], got {p!r}")
        object.__setattr__(self, "min_probability", float(p))

    def __eq__(self, other: object) -> bool:
        """Equal classes, features, numbers and cut-off (``info`` is not compared)."""
        if not isinstance(other, CellFilter):
            return NotImplemented
        mine, theirs = self.to_dict(), other.to_dict()
        mine.pop("info"), theirs.pop("info")
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]

    def _select(self, features: np.ndarray) -> np.ndarray:
        arr = np.asarray(features, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(CELL_FEATURES):
            raise ValueError(f"expected (K, {len(CELL_FEATURES)}) cell features, got {arr.shape}")
        return arr[:, [CELL_FEATURES.index(f) for f in self.features]]

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """``(K, C)`` class probabilities of nuclei with ``(K, len(CELL_FEATURES))`` features."""
        z = (self._select(features) - self.mean) / self.scale
        logits = z @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The most probable class name of each nucleus, ``(K,)`` object array."""
        p = self.probabilities(features)
        return np.asarray(self.classes, dtype=object)[np.argmax(p, axis=1)]

    def kept(self, features: np.ndarray) -> np.ndarray:
        """``(K,)`` bool: whether each nucleus counts (its ``keep`` probability is enough)."""
        p = self.probabilities(features)
        cols = [self.classes.index(k) for k in self.keep]
        return np.asarray(p[:, cols].sum(axis=1) >= self.min_probability)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CELL_FILTER_FORMAT,
            "version": _VERSION,
            "classes": list(self.classes),
            "keep": list(self.keep),
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias.tolist(),
            "min_probability": self.min_probability,
            "info": dict(self.info),
        }

    def to_json(self, *, indent: int = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> CellFilter:
        """Build from :meth:`to_dict`'s form; a wrong format or field is a clear error."""
        if not isinstance(data, dict) or data.get("format") != CELL_FILTER_FORMAT:
            raise ValueError(f'not a cell filter (expected "format": "{CELL_FILTER_FORMAT}")')
        if data.get("version") != _VERSION:
            raise ValueError(f"cell filter version {data.get('version')!r}: expected {_VERSION}")
        known = {"format", "version", "classes", "keep", "features", "mean", "scale",
                 "weights", "bias", "min_probability", "info"}  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} in the cell filter")
        missing = sorted(known - {"info", "min_probability"} - set(data))
        if missing:
            raise ValueError(f"the cell filter has no {missing[0]!r}")
        for key in ("classes", "keep", "features"):
            if not isinstance(data[key], list) or not all(isinstance(s, str) for s in data[key]):
                raise ValueError(f"{key}: expected a list of names")
        info = data.get("info", {})
        return cls(
            tuple(data["classes"]), tuple(data["keep"]), tuple(data["features"]),
            data["mean"], data["scale"], data["weights"], data["bias"],
            data.get("min_probability", 0.5), dict(info) if isinstance(info, dict) else {},
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> CellFilter:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        """Write the JSON atomically; returns the path."""
        from segkit.files import atomic_write_text

        return atomic_write_text(path, self.to_json())


def _root() -> Path:
    return Path(__file__).resolve().parent


def bundled_cell_filters() -> tuple[str, ...]:
    """The names of the shipped cell filters (``segkit:NAME`` selects one)."""
    return tuple(sorted(p.name[: -len(_SUFFIX)] for p in _root().glob(f"*{_SUFFIX}")))


def load_cell_filter(source: str | Path | CellFilter) -> CellFilter:
    """A cell filter from a JSON file, a shipped ``segkit:NAME``, or one already built.

    Raises
    ------
    ValueError
        One line naming the file and what is wrong with it (missing, not JSON, not a filter).
    """
    from segkit.files import read_json

    if isinstance(source, CellFilter):
        return source
    text = str(source)
    if text.startswith(_PREFIX):
        name = text[len(_PREFIX) :]
        path = _root() / f"{name}{_SUFFIX}"
        if "/" in name or not path.is_file():
            have = ", ".join(_PREFIX + n for n in bundled_cell_filters()) or "none"
            raise ValueError(f"{text}: no shipped cell filter of that name (shipped: {have})")
    else:
        path = Path(source)
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such cell filter file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a folder, expected a cell filter JSON file") from None
    try:
        return CellFilter.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def apply_cell_filter(
    image: np.ndarray,
    labels: np.ndarray,
    cell_filter: CellFilter | str | Path,
    stains: StainVectors | str = H_DAB,
    *,
    mpp: float | None = None,
) -> np.ndarray:
    """``labels`` with the nuclei the filter does not keep set to 0 (ids unchanged)."""
    clf = load_cell_filter(cell_filter)
    ids, features = cell_features(image, labels, stains, mpp=mpp)
    if len(ids) == 0:
        return np.asarray(labels)
    dropped = ids[~clf.kept(features)]
    out = np.array(labels, copy=True)
    out[np.isin(out, dropped)] = 0
    return out


def fit_cell_filter(
    features: np.ndarray,
    targets: Sequence[str] | np.ndarray,
    *,
    classes: Sequence[str],
    keep: Sequence[str],
    feature_names: Sequence[str] = CELL_FEATURES,
    l2: float = 1e-2,
    min_probability: float = 0.5,
    class_weight: str | None = None,
    steps: int = 500,
    info: dict[str, Any] | None = None,
) -> CellFilter:
    """Train a :class:`CellFilter` by L2-regularised maximum likelihood (gradient descent).

    Parameters
    ----------
    features : (K, len(CELL_FEATURES)) ndarray
        From :func:`~segkit.ki67.cellfeatures.cell_features` (all columns).
    targets : (K,) sequence of str
        The class of each nucleus (each one of ``classes``).
    classes, keep : sequence of str
    feature_names : sequence of str
        The features the filter uses.
    l2 : float
        Penalty on the weights (of the standardised features).
    class_weight : {None, "balanced"}
        ``"balanced"`` weighs each class by the inverse of its frequency.
    steps : int
        Iterations of full-batch gradient descent with momentum (the problem is convex).
    """
    t = np.asarray(targets, dtype=object)
    classes = tuple(classes)
    if len(t) != len(features) or not len(t):
        raise ValueError(f"{len(t)} targets for {len(features)} feature rows")
    bad = sorted({str(v) for v in t} - set(classes))
    if bad:
        raise ValueError(f"targets: unknown class {bad[0]!r}; expected one of {classes}")
    cols = [CELL_FEATURES.index(f) for f in feature_names]
    x = np.asarray(features, dtype=np.float64)[:, cols]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    y = np.zeros((len(t), len(classes)))
    y[np.arange(len(t)), [classes.index(v) for v in t]] = 1.0
    w_row = np.ones(len(t))
    if class_weight == "balanced":
        freq = y.sum(axis=0)
        w_row = (len(t) / (len(classes) * np.maximum(freq, 1.0)))[np.argmax(y, axis=1)]
    elif class_weight is not None:
        raise ValueError(f"class_weight {class_weight!r}: expected None or 'balanced'")
    w_row = w_row / w_row.sum()
    weights, bias = np.zeros((len(cols), len(classes))), np.zeros(len(classes))
    vw, vb = np.zeros_like(weights), np.zeros_like(bias)
    rate = 0.5
    for _ in range(steps):
        logits = z @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - y) * w_row[:, None]
        gw, gb = z.T @ g + l2 * weights, g.sum(axis=0)
        vw, vb = 0.9 * vw - rate * gw, 0.9 * vb - rate * gb
        weights, bias = weights + vw, bias + vb
    return CellFilter(
        classes, tuple(keep), tuple(feature_names), mean, scale, weights, bias,
        min_probability, dict(info or {}),
    )  # fmt: skip
