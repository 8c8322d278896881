"""Ki-67 scoring of a whole slide, streamed: nuclei band by band, every output as it comes.

:func:`score_ki67_slide` finds the tissue (:func:`segkit.slides.detect_tissue`), streams the
slide's nuclei (:class:`segkit.slides.cells.SlideNuclei`: each nucleus exactly once, never
cut at a band seam), measures each pass's kept nuclei on that pass's pixels at the model's
scale (:func:`segkit.ki67.measure.measure_nuclei`), classifies them, and streams them into
``NAME.geojson`` (QuPath detections, level-0 pixel coordinates) and ``cells.csv``, while a
:class:`segkit.ki67.hotspot.CellGrid` counts them per 50 µm bin. At the end come the summary
with the hot spot, ``NAME_ki67_heatmap.png`` and ``NAME_tissue.png``. No slide-sized array
is held: per nucleus only its counts in the grid outlive its band.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segkit.ki67.classify import (
    POSITIVE,
    NucleusClassifier,
    ThresholdClassifier,
    learned_classifier,
)
from segkit.ki67.hotspot import CellGrid, Hotspot, draw_heatmap, find_hotspot
from segkit.ki67.summary import MIN_CELLS, Ki67Summary, summarize_counts
from segkit.stain import H_DAB, StainVectors, estimate_background, stain_preset

__all__ = ["SlideScore", "score_ki67_slide", "heatmap_name"]


def heatmap_name(name: str) -> str:
    """``NAME_ki67_heatmap.png``."""
    return f"{name}_ki67_heatmap.png"


@dataclass(frozen=True)
class SlideScore:
    """What :func:`score_ki67_slide` found and wrote.

    ``summary`` has the fields of an image's; ``hotspot`` is None with fewer than
    ``min_cells`` cells. ``band_bytes`` and ``peak_buffer_bytes`` are the memory of the band
    blender and of the largest watershed buffer; ``cut`` counts nuclei larger than the seam
    margin that touched a buffer edge.
    """

    summary: Ki67Summary
    hotspot: Hotspot | None
    paths: dict[str, Path] = field(repr=False)
    mpp: float | None
    seconds: float
    band_bytes: int
    peak_buffer_bytes: int
    windows: int
    predicted: int
    cut: int

    def row(self) -> dict[str, Any]:
        """The ``summary.csv`` row (without ``image``): the summary and the hot spot."""
        from segkit.ki67.hotspot import HOTSPOT_COLUMNS

        row: dict[str, Any] = self.summary.to_dict()
        hot = self.hotspot.to_row() if self.hotspot else dict.fromkeys(HOTSPOT_COLUMNS, "")
        return {**row, **hot}


def _nuclei(
    band: Any,
    slide: Any,
    stains: StainVectors,
    clf: Any,
    info: Any,
    model_mpp: float | None,
    cell_filter: Any = None,
) -> Iterator[dict[str, Any]]:
    """The kept nuclei of one pass: measured, classified, in level-0 pixels.

    Only the rows with kept nuclei are read, in pieces of about
    :data:`segkit.slides.cells.CHUNK` columns that no nucleus crosses.
    """
    from segkit.slides.cells import column_chunks

    if not len(band.ids):
        return
    labels = band.kept_labels()
    rows = np.flatnonzero(labels.any(axis=1))
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    labels = labels[r0:r1]
    for cols in column_chunks(labels.any(axis=0)):
        piece = labels[:, cols]
        yield from _measure(
            band, slide, piece, (r0, cols), stains, clf, info, model_mpp, cell_filter
        )


def _measure(
    band: Any,
    slide: Any,
    labels: np.ndarray,
    where: tuple[int, slice],
    stains: StainVectors,
    clf: Any,
    info: Any,
    model_mpp: float | None,
    cell_filter: Any = None,
) -> Iterator[dict[str, Any]]:
    """The nuclei of ``labels``, a piece of the band from its row ``where[0]``."""
    from segkit.ki67.cellfilter import apply_cell_filter
    from segkit.ki67.measure import measure_nuclei
    from segkit.ki67.outlines import nucleus_outlines
    from segkit.slides.windows import read_model_region

    r0, cols = where
    top, left = band.top + r0, int(cols.start)
    image = read_model_region(slide, band.plan, (top, left), labels.shape)
    if cell_filter is not None:
        labels = apply_cell_filter(image, labels, cell_filter, stains, mpp=model_mpp)
    table = measure_nuclei(image, labels, stains, mpp=model_mpp)
    if not len(table):
        return
    if clf == "learned":
        proba = band.proba[r0 : r0 + len(labels), cols]
        classifier: NucleusClassifier = learned_classifier(proba, info.class_names)
    else:
        classifier = clf
    classes = classifier.classify(table, labels)
    fy, fx = band.to_full()
    outlines = nucleus_outlines(labels, table.id, origin=(top, left), scale=(fy, fx))
    for i, k in enumerate(table.id.tolist()):
        if k not in outlines:
            continue
        yield {
            "x": (float(table.x[i]) + left + 0.5) * fx - 0.5,  # level-0 pixels, as for images
            "y": (float(table.y[i]) + top + 0.5) * fy - 0.5,
            "area": float(table.area[i]) * fx * fy,
            "area_um2": float(table.area_um2[i]),
            "dab_od_mean": float(table.dab_od_mean[i]),
            "dab_od_max": float(table.dab_od_max[i]),
            "hematoxylin_od_mean": float(table.hematoxylin_od_mean[i]),
            "class": str(classes.classes[i]),
            "bin": int(classes.bins[i]),
            "outline": np.asarray(outlines[k], dtype=np.float64),
        }


def _annotation(nucleus: dict[str, Any], image_name: str) -> Any:
    """A QuPath detection of one nucleus (finite measurements only, QuPath's names)."""
    from segkit.annotations.geometry import Annotation, Polygon
    from segkit.ki67.qupath_names import qupath_measurements

    return Annotation(
        geometry=Polygon(nucleus["outline"]),
        class_name=nucleus["class"],
        object_type="detection",
        measurements=qupath_measurements(nucleus),
        image=image_name,
    )


def score_ki67_slide(
    path: str | Path,
    output: str | Path,
    model: Any = "segkit:nuclei",
    *,
    classifier: str = "threshold",
    threshold: float = 0.2,
    stains: StainVectors | str = H_DAB,
    mpp: float | None = None,
    tile_size: int | None = None,
    batch_size: int = 4,
    min_cells: int = MIN_CELLS,
    cells: Any = None,
    progress: bool = False,
    cell_filter: Any = None,
) -> SlideScore:
    """Score a whole slide; write ``NAME.geojson``, ``NAME_ki67_heatmap.png``, ``NAME_tissue.png``.

    Parameters
    ----------
    path : path
        A slide file (:func:`segkit.slides.is_slide`).
    output : path
        The output folder.
    model, classifier, threshold, stains, tile_size, min_cells
        As for :func:`segkit.ki67.score_ki67_image`; the glass's white point is estimated on
        the slide's thumbnail.
    mpp : float, optional
        Microns per pixel of level 0 when the slide does not record it.
    cells : CellsWriter, optional
        Receives one ``cells.csv`` row per nucleus (``x``, ``y``, ``area`` in level-0 pixels).
    progress : bool
        A progress bar over the windows.
    cell_filter : CellFilter, path or ``segkit:NAME``, optional
        As for :func:`segkit.ki67.score_ki67_image` (features at the model's scale).
    """
    from segkit.annotations.qupath_geojson import write_qupath_geojson
    from segkit.imaging import write_image
    from segkit.ki67.cellfilter import load_cell_filter
    from segkit.ki67.outputs import CLASS_OUTLINE_COLOURS
    from segkit.slides import detect_tissue, open_slide, save_tissue_png, slide_name
    from segkit.slides.cells import SlideNuclei
    from segkit.slides.nuclei_resume import NucleiProgress, saved_passes

    started = time.monotonic()
    if cell_filter is not None:
        cell_filter = load_cell_filter(cell_filter)
    if classifier not in ("threshold", "learned"):
        raise ValueError(f"classifier {classifier!r}: expected 'threshold' or 'learned'")
    out = Path(output)
    name = slide_name(path)
    slide = open_slide(path)
    try:
        if mpp and slide.mpp is None:
            slide.mpp = (float(mpp), float(mpp))
        tissue = detect_tissue(slide)
        sv = stain_preset(stains).with_background(estimate_background(tissue.thumbnail))
        nuclei = SlideNuclei(
            model, slide, tile_size=tile_size, batch_size=batch_size,
            tissue=(tissue.mask, tissue.downsample), progress=progress,
        )  # fmt: skip
        clf: Any = "learned" if classifier == "learned" else ThresholdClassifier(threshold)
        slide_mpp = float(slide.mpp[0]) if slide.mpp else None
        w0, h0 = slide.level_dimensions[0]
        grid = CellGrid((w0, h0), slide_mpp)
        tally = np.zeros(5, dtype=np.int64)  # positive, total, 1+, 2+, 3+

        settings = nuclei.settings() | {
            "records": "ki67", "classifier": classifier, "threshold_dab": threshold,
            "stains": stains if isinstance(stains, str) else repr(stains), "mpp": mpp,
            "cell_filter": None if cell_filter is None else cell_filter.to_dict(),
        }  # fmt: skip
        saved = NucleiProgress(out, name, settings)

        def records(band: Any) -> list[Any]:
            found = list(_nuclei(band, slide, sv, clf, nuclei.info, nuclei.model_mpp, cell_filter))
            return [f | {"outline": f["outline"].tolist()} for f in found]

        saved_passes(nuclei, saved, records)

        def annotations() -> Iterator[Any]:
            for found in saved.records():
                if not found:
                    continue
                for f in found:
                    f["outline"] = np.asarray(f["outline"], dtype=np.float64)
                positive = np.array([f["class"] == POSITIVE for f in found])
                xs, ys = np.array([f["x"] for f in found]), np.array([f["y"] for f in found])
                grid.add(xs, ys, positive)
                tally[0] += int(positive.sum())
                for f in found:
                    tally[1] += 1
                    if f["bin"]:
                        tally[1 + f["bin"]] += 1
                    if cells is not None:
                        cells.write([{"image": name, "id": int(tally[1]), **f}])
                    yield _annotation(f, Path(path).name)

        geojson = out / f"{name}.geojson"
        write_qupath_geojson(
            geojson, annotations(), object_type="detection", colors=CLASS_OUTLINE_COLOURS
        )
        hotspot = find_hotspot(grid, min_cells=min_cells)
        heatmap = out / heatmap_name(name)
        write_image(heatmap, draw_heatmap(tissue.thumbnail, tissue.downsample, grid,
                                          hotspot=hotspot))  # fmt: skip
        tissue_png = save_tissue_png(out / f"{name}_tissue.png", tissue.thumbnail, tissue)
        saved.discard()
    finally:
        slide.close()
    summary = summarize_counts(
        int(tally[0]), int(tally[1]), [int(t) for t in tally[2:]], min_cells=min_cells
    )
    return SlideScore(
        summary=summary,
        hotspot=hotspot,
        paths={"geojson": geojson, "heatmap": heatmap, "tissue": tissue_png},
        mpp=slide_mpp,
        seconds=time.monotonic() - started,
        band_bytes=nuclei.band_bytes,
        peak_buffer_bytes=nuclei.peak_buffer_bytes,
        windows=nuclei.plan.windows,
        predicted=nuclei.predicted,
        cut=nuclei.cut,
    )
