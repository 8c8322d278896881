"""Ki-67 scoring of one image from instance labels (no model needed here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segkit.ki67.cellfilter import CellFilter, apply_cell_filter
from segkit.ki67.classical import ClassicalConfig, detect_nuclei
from segkit.ki67.classify import Classification, NucleusClassifier, make_classifier
from segkit.ki67.measure import NucleusTable, check_labels, measure_nuclei
from segkit.ki67.summary import MIN_CELLS, Ki67Summary, summarize_ki67
from segkit.stain import H_DAB, StainVectors, stain_preset

__all__ = ["ImageScore", "score_ki67_classical", "score_ki67_labels"]


@dataclass(frozen=True)
class ImageScore:
    """Everything scored in one image: its labels, per-nucleus rows, classes and summary."""

    labels: np.ndarray
    measurements: NucleusTable
    classification: Classification
    summary: Ki67Summary


def score_ki67_labels(
    image: np.ndarray,
    labels: np.ndarray,
    *,
    classifier: NucleusClassifier | str = "threshold",
    stains: StainVectors | str = H_DAB,
    mpp: float | None = None,
    min_cells: int = MIN_CELLS,
    cell_filter: CellFilter | str | Path | None = None,
) -> ImageScore:
    """Measure, classify and count the nuclei ``labels`` marks in ``image``.

    Parameters
    ----------
    image : (M, N, 3) ndarray
        8-bit RGB Ki-67 IHC image.
    labels : (M, N) ndarray of int
        Instance labels of the tumour nuclei (0 background).
    classifier : NucleusClassifier or str
        A classifier, or the name of one built with its defaults (``"threshold"``).
    stains : StainVectors or preset name
    mpp : float, optional
        Microns per pixel, for areas in µm².
    min_cells : int
        Fewer counted cells than this put a warning in the summary.
    cell_filter : CellFilter, path or ``segkit:NAME``, optional
        Keep only the nuclei it classes as tumour cells (:mod:`segkit.ki67.cellfilter`);
        the others are removed from the labels, so they are neither counted nor written.
        Its features use ``mpp`` (default 0.25 µm/px).
    """
    labels = check_labels(labels, np.shape(image))
    sv = stain_preset(stains)
    clf = make_classifier(classifier) if isinstance(classifier, str) else classifier
    if cell_filter is not None:
        labels = apply_cell_filter(image, labels, cell_filter, sv, mpp=mpp)
    table = measure_nuclei(image, labels, sv, mpp=mpp)
    classes = clf.classify(table, labels)
    return ImageScore(labels, table, classes, summarize_ki67(classes, min_cells=min_cells))


def score_ki67_classical(
    image: np.ndarray,
    *,
    config: ClassicalConfig | None = None,
    classifier: NucleusClassifier | str = "threshold",
    stains: StainVectors | str = H_DAB,
    min_cells: int = MIN_CELLS,
    cell_filter: CellFilter | str | Path | None = None,
) -> ImageScore:
    """Detect nuclei with :func:`segkit.ki67.classical.detect_nuclei`, then score them.

    Every detected nucleus counts as a tumour cell unless ``cell_filter`` (as for
    :func:`score_ki67_labels`) drops it: the classical detector alone does not tell
    lymphocytes or stroma apart, which lowers the index where they are many.
    """
    cfg = config or ClassicalConfig()
    labels = detect_nuclei(image, cfg, stains=stains)
    return score_ki67_labels(
        image,
        labels,
        classifier=classifier,
        stains=stains,
        mpp=cfg.mpp,
        min_cells=min_cells,
        cell_filter=cell_filter,
    )
