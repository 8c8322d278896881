"""Ki-67 scoring from nucleus instance labels: measure, classify, count, write.

- :mod:`~segkit.ki67.measure`: per-nucleus centroid, area and stain OD (:func:`measure_nuclei`).
- :mod:`~segkit.ki67.classify`: the registry of positive/negative classifiers
  (``"threshold"``: QuPath's mean DAB OD rule; ``"learned"``: a model's per-pixel classes).
- :mod:`~segkit.ki67.cellfeatures`, :mod:`~segkit.ki67.cellfilter`: per-nucleus features and
  the cell filter that keeps tumour nuclei only (JSON, ``segkit:shidc-breast`` shipped).
- :mod:`~segkit.ki67.summary`: counts, Ki-67 index with its Wilson interval, H-score.
- :mod:`~segkit.ki67.score`: :func:`score_ki67_labels`, :func:`score_ki67_classical`.
- :mod:`~segkit.ki67.classical`: a model-free nucleus detector (QuPath-style).
- :mod:`~segkit.ki67.outlines`: nucleus polygons for the GeoJSON writer.
- :mod:`~segkit.ki67.outputs`: ``summary.csv``, ``cells.csv``, ``NAME_overlay.png``.
- :mod:`~segkit.ki67.pipeline`: image files and a model in, every output written
  (:func:`score_ki67`, ``segkit ki67``).
"""

from segkit.ki67.cellfeatures import CELL_FEATURES, cell_features
from segkit.ki67.cellfilter import CellFilter, fit_cell_filter, load_cell_filter
from segkit.ki67.classical import ClassicalConfig, detect_nuclei
from segkit.ki67.classify import (
    CLASSIFIERS,
    Classification,
    LearnedClassifier,
    ThresholdClassifier,
    make_classifier,
)
from segkit.ki67.measure import NucleusTable, measure_nuclei
from segkit.ki67.outlines import nucleus_features, nucleus_outlines
from segkit.ki67.outputs import write_ki67_outputs
from segkit.ki67.pipeline import CLASSICAL, score_ki67, score_ki67_image, write_geojson
from segkit.ki67.score import ImageScore, score_ki67_classical, score_ki67_labels
from segkit.ki67.summary import Ki67Summary, summarize_ki67, wilson_interval

__all__ = [
    "CELL_FEATURES",
    "CLASSICAL",
    "CLASSIFIERS",
    "CellFilter",
    "ClassicalConfig",
    "Classification",
    "ImageScore",
    "Ki67Summary",
    "LearnedClassifier",
    "NucleusTable",
    "ThresholdClassifier",
    "cell_features",
    "detect_nuclei",
    "fit_cell_filter",
    "load_cell_filter",
    "make_classifier",
    "measure_nuclei",
    "nucleus_features",
    "nucleus_outlines",
    "score_ki67",
    "score_ki67_image",
    "score_ki67_classical",
    "score_ki67_labels",
    "summarize_ki67",
    "wilson_interval",
    "write_geojson",
    "write_ki67_outputs",
]
