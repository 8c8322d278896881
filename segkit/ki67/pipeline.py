"""Ki-67 scoring of image files with a segmentation model: nuclei, classes, every output.

:func:`score_ki67_image` turns one RGB image into an :class:`~segkit.ki67.ImageScore`: the
model's blended probability map (any image size, through the tiled predictor) gives the nuclei
(:func:`segkit.instances.predict_instance_map`: a nucleus on a tile seam is neither cut nor
counted twice), which are measured and classified Positive or Negative by the DAB threshold
(QuPath's rule) or by the model's own classes. :func:`score_ki67` does it for many files and
writes ``summary.csv``, ``cells.csv`` and, per image, ``NAME.geojson`` (QuPath detections),
``NAME_overlay.png`` and ``NAME_instances.tif``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segkit.ki67.cellfilter import CellFilter, load_cell_filter
from segkit.ki67.classical import ClassicalConfig, detect_nuclei
from segkit.ki67.classify import (
    LearnedClassifier,
    NucleusClassifier,
    ThresholdClassifier,
    learned_classifier,
)
from segkit.ki67.score import ImageScore, score_ki67_labels
from segkit.ki67.summary import MIN_CELLS
from segkit.stain import H_DAB, StainVectors, estimate_background, stain_preset

__all__ = ["CLASSICAL", "score_ki67_image", "score_ki67", "summary_rows", "write_geojson"]

#: The model name that selects the model-free detector (:mod:`segkit.ki67.classical`).
CLASSICAL = "classical"


def _learned(prediction: Any) -> LearnedClassifier:
    return learned_classifier(prediction.proba, prediction.info.class_names)


def score_ki67_image(
    image: np.ndarray,
    model: Any = "segkit:nuclei",
    *,
    classifier: str = "threshold",
    threshold: float = 0.2,
    stains: StainVectors | str = H_DAB,
    mpp: float | None = None,
    tile_size: int | None = None,
    min_cells: int = MIN_CELLS,
    cell_filter: CellFilter | str | Path | None = None,
) -> ImageScore:
    """Nuclei of a Ki-67 IHC image, measured, classified and counted.

    Parameters
    ----------
    image : (M, N, 3) uint8 ndarray
        RGB brightfield image of any size.
    model : str, path, Run or keras.Model
        Anything :func:`segkit.models.resolve_model` takes (default the bundled
        ``segkit:nuclei``), or ``"classical"`` for the model-free detector.
    classifier : {'threshold', 'learned'}
        ``threshold``: Positive when the nucleus's mean DAB optical density is at least
        ``threshold`` (QuPath's semantics and units); ``learned``: the model's own negative /
        positive classes (majority of the nucleus's pixels).
    threshold : float
        DAB OD threshold of the ``threshold`` classifier (QuPath's default 0.2).
    stains : StainVectors or preset name
        Stain vectors for colour deconvolution. The glass's white point is estimated per image.
    mpp : float, optional
        Microns per pixel of ``image``: areas in µm², and the image is rescaled to the
        model's own microns per pixel when the model records one
        (:meth:`segkit.models.ModelInfo.at_mpp`); otherwise the model's training scale.
    tile_size : int, optional
        Sliding-window tile (default: the model's training size).
    min_cells : int
        Fewer tumour cells than this put a warning in the summary (500 by the guidelines).
    cell_filter : CellFilter, path or ``segkit:NAME``, optional
        Count only the nuclei this filter classes as tumour cells (stroma, lymphocytes and
        other nuclei are dropped; :mod:`segkit.ki67.cellfilter`). Default: every nucleus.
    """
    sv = stain_preset(stains).with_background(estimate_background(image))
    if cell_filter is not None:
        cell_filter = load_cell_filter(cell_filter)  # a bad file fails before the model runs
    if isinstance(model, str) and model == CLASSICAL:
        if classifier != "threshold":
            raise ValueError("the classical detector has no classes of its own; use 'threshold'")
        labels = detect_nuclei(image, ClassicalConfig(), stains=sv)
        clf: NucleusClassifier = ThresholdClassifier(threshold=threshold)
        return score_ki67_labels(
            image, labels, classifier=clf, stains=sv, mpp=mpp, min_cells=min_cells,
            cell_filter=cell_filter,
        )  # fmt: skip
    from segkit.instances import predict_instance_map
    from segkit.models import resolve_model

    net, info = resolve_model(model)
    prediction = predict_instance_map(net, image, info=info.at_mpp(mpp), tile_size=tile_size)
    if classifier == "threshold":
        clf = ThresholdClassifier(threshold=threshold)
    elif classifier == "learned":
        clf = _learned(prediction)
    else:
        raise ValueError(f"classifier {classifier!r}: expected 'threshold' or 'learned'")
    return score_ki67_labels(
        image, prediction.labels, classifier=clf, stains=sv, mpp=mpp, min_cells=min_cells,
        cell_filter=cell_filter,
    )  # fmt: skip


def _annotations(score: ImageScore, image_name: str) -> Iterator[Any]:
    from segkit.annotations.geometry import Annotation, Polygon
    from segkit.ki67.outlines import nucleus_features
    from segkit.ki67.qupath_names import qupath_measurements

    for feature in nucleus_features(score.labels, score.measurements, score.classification):
        measurements = qupath_measurements({**feature["measurements"], "bin": feature["bin"]})
        yield Annotation(
            geometry=Polygon(np.asarray(feature["outline"], dtype=float)),
            class_name=feature["class"],
            object_type="detection",
            measurements=measurements,
            image=image_name,
        )


def write_geojson(path: str | Path, score: ImageScore, *, image_name: str = "") -> int:
    """Write the nuclei of ``score`` as QuPath detections (one closed polygon each).

    Each feature has ``properties.objectType = "detection"``, a Positive or Negative
    classification with its colour, and the nucleus's measurements. Returns the count.
    """
    from segkit.annotations.qupath_geojson import write_qupath_geojson
    from segkit.ki67.outputs import CLASS_OUTLINE_COLOURS

    return write_qupath_geojson(
        path, _annotations(score, image_name), object_type="detection", colors=CLASS_OUTLINE_COLOURS
    )


def _is_slide(path: str | Path, max_pixels: int) -> bool:
    """Whether ``path`` is scored as a whole slide (one rule: :func:`segkit.slides.is_slide`)."""
    try:
        from segkit.slides.readers import is_slide_file
    except ImportError:  # the slides extra is not installed: plain images only
        return False
    return bool(is_slide_file(path, max_pixels=max_pixels))


def _name(path: str | Path, slide: bool) -> str:
    if slide:
        from segkit.slides import slide_name

        return slide_name(path)
    return Path(path).stem


def score_ki67(
    images: Sequence[str | Path],
    output: str | Path,
    model: Any = "segkit:nuclei",
    *,
    classifier: str = "threshold",
    threshold: float = 0.2,
    stains: StainVectors | str = H_DAB,
    mpp: float | None = None,
    tile_size: int | None = None,
    max_pixels: int | None = None,
    progress: Any = None,
    cell_filter: CellFilter | str | Path | None = None,
) -> dict[str, Any]:
    """Score image files and whole slides and write every output to ``output``.

    Writes ``summary.csv`` (one row per image or slide), ``cells.csv`` (one row per nucleus,
    streamed) and per image ``NAME.geojson``, ``NAME_overlay.png`` and
    ``NAME_instances.tif``. A whole slide (:func:`segkit.slides.is_slide`) is streamed
    instead (:func:`segkit.ki67.wholeslide.score_ki67_slide`): ``NAME.geojson``,
    ``NAME_ki67_heatmap.png``, ``NAME_tissue.png``, and its summary row has the hot spot
    columns too. Options as for :func:`score_ki67_image`; ``progress`` is called with each
    name and its score once scored.

    Returns
    -------
    dict
        ``{NAME: ImageScore or SlideScore}`` in the order given.
    """
    from segkit.files import check_output_file
    from segkit.imaging import DEFAULT_MAX_PIXELS, read_image, to_channels
    from segkit.instances import save_instances
    from segkit.ki67.hotspot import HOTSPOT_COLUMNS
    from segkit.ki67.outputs import SUMMARY_COLUMNS, CellsWriter, write_overlay, write_summary_rows

    if isinstance(model, str) and model != CLASSICAL:
        from segkit.models import resolve_model

        model = resolve_model(model)  # load once for every image
    if cell_filter is not None:
        cell_filter = load_cell_filter(cell_filter)
    out = Path(output)
    check_output_file(out / "summary.csv")
    limit = max_pixels or DEFAULT_MAX_PIXELS
    slides = [_is_slide(p, limit) for p in images]
    names = [_name(p, s) for p, s in zip(images, slides, strict=True)]
    if len(set(names)) != len(names):
        raise ValueError("two images share a file name; score them into separate folders")
    if any(slides) and isinstance(model, str):
        raise ValueError("whole slides need a segmentation model; 'classical' scores images only")
    scores: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    with CellsWriter(out / "cells.csv") as cells:
        for path, name, slide in zip(images, names, slides, strict=True):
            if slide:
                from segkit.ki67.wholeslide import score_ki67_slide

                score: Any = score_ki67_slide(
                    path, out, model, classifier=classifier, threshold=threshold,
                    stains=stains, mpp=mpp, tile_size=tile_size, cells=cells,
                    cell_filter=cell_filter,
                )  # fmt: skip
                rows.append({"image": name, **score.row()})
            else:
                image = to_channels(read_image(path, max_pixels=limit), 3)
                score = score_ki67_image(
                    image, model, classifier=classifier, threshold=threshold, stains=stains,
                    mpp=mpp, tile_size=tile_size, cell_filter=cell_filter,
                )  # fmt: skip
                save_instances(out / f"{name}_instances.tif", score.labels)
                write_geojson(out / f"{name}.geojson", score, image_name=Path(path).name)
                write_overlay(out / f"{name}_overlay.png", image, score)
                cells.write_score(name, score)
                rows.append({"image": name, **score.summary.to_dict()})
            scores[name] = score
            if progress is not None:
                progress(name, score)
    columns = SUMMARY_COLUMNS[:-1] + HOTSPOT_COLUMNS + SUMMARY_COLUMNS[-1:]
    write_summary_rows(out / "summary.csv", rows, columns if any(slides) else SUMMARY_COLUMNS)
    return scores


def summary_rows(scores: Mapping[str, ImageScore]) -> list[dict[str, Any]]:
    """``{"image": NAME, **summary}`` per image, for printing."""
    return [{"image": name, **s.summary.to_dict()} for name, s in scores.items()]
