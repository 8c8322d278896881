"""Files of a Ki-67 scoring: ``summary.csv``, ``cells.csv`` and ``NAME_overlay.png``.

All writes are atomic (:mod:`segkit.files`). The QuPath GeoJSON and the ``NAME_instances.tif``
label image are written by :mod:`segkit.annotations` and :mod:`segkit.instances`; their input
is :func:`segkit.ki67.outlines.nucleus_features`.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from segkit.files import atomic_path, atomic_write_text
from segkit.imaging import to_rgb, write_image
from segkit.ki67.classify import POSITIVE
from segkit.ki67.score import ImageScore
from segkit.viz.overlays import mask_boundaries

__all__ = [
    "CELL_COLUMNS",
    "CellsWriter",
    "CLASS_OUTLINE_COLOURS",
    "SUMMARY_COLUMNS",
    "draw_class_outlines",
    "write_cells_csv",
    "write_ki67_outputs",
    "write_overlay",
    "write_summary_csv",
    "write_summary_rows",
]

SUMMARY_COLUMNS = (
    "image",
    "positive",
    "negative",
    "total",
    "ki67_index",
    "ki67_ci_low",
    "ki67_ci_high",
    "h_score",
    "bin_1plus",
    "bin_2plus",
    "bin_3plus",
    "warning",
)
CELL_COLUMNS = ("image", "id", "x", "y", "area", "dab_od_mean", "hematoxylin_od_mean", "class")
#: Outline colours: Positive red-brown, Negative blue.
CLASS_OUTLINE_COLOURS = {"Positive": (220, 60, 20), "Negative": (30, 90, 255)}


def _fmt(value: object) -> object:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4f}"
    return value


def _csv_text(columns: tuple[str, ...], rows: Iterable[Mapping[str, object]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row[k]) for k in columns})
    return buf.getvalue()


def write_summary_csv(path: str | Path, scores: Mapping[str, ImageScore]) -> Path:
    """One row per image (``{image name: score}``), columns :data:`SUMMARY_COLUMNS`."""
    rows = ({"image": name, **s.summary.to_dict()} for name, s in scores.items())
    return atomic_write_text(path, _csv_text(SUMMARY_COLUMNS, rows))


def write_summary_rows(
    path: str | Path, rows: Iterable[Mapping[str, object]], columns: tuple[str, ...]
) -> Path:
    """``summary.csv`` from plain rows; a column a row lacks is left empty."""
    full = ({k: row.get(k, "") for k in columns} for row in rows)
    return atomic_write_text(path, _csv_text(columns, full))


def _cell_rows(name: str, score: ImageScore) -> Iterator[dict[str, object]]:
    t, classes = score.measurements, score.classification.classes
    for i in range(len(t)):
        yield {
            "image": name,
            "id": int(t.id[i]),
            "x": float(t.x[i]),
            "y": float(t.y[i]),
            "area": int(t.area[i]),
            "dab_od_mean": float(t.dab_od_mean[i]),
            "hematoxylin_od_mean": float(t.hematoxylin_od_mean[i]),
            "class": str(classes[i]),
        }


def write_cells_csv(path: str | Path, scores: Mapping[str, ImageScore]) -> Path:
    """One row per nucleus of every image, columns :data:`CELL_COLUMNS`."""
    with CellsWriter(path) as cells:
        for name, s in scores.items():
            cells.write(_cell_rows(name, s))
    return Path(path)


class CellsWriter:
    """``cells.csv`` written row by row (a slide's nuclei stream through it), atomically.

    Use as a context manager; the file replaces ``path`` when the block ends without error.
    Rows are mappings with the :data:`CELL_COLUMNS`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = 0

    def __enter__(self) -> CellsWriter:
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        self._fh = self._stack.enter_context(open(tmp, "w", encoding="utf-8", newline=""))
        self._csv = csv.DictWriter(self._fh, fieldnames=CELL_COLUMNS, lineterminator="\n")
        self._csv.writeheader()
        return self

    def write(self, rows: Iterable[Mapping[str, object]]) -> None:
        for row in rows:
            self._csv.writerow({k: _fmt(row[k]) for k in CELL_COLUMNS})
            self.rows += 1

    def write_score(self, name: str, score: ImageScore) -> None:
        """The rows of one scored image."""
        self.write(_cell_rows(name, score))

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)


def draw_class_outlines(image: np.ndarray, score: ImageScore, *, thickness: int = 1) -> np.ndarray:
    """``image`` (RGB uint8) with each nucleus outlined in its class colour; fills none."""
    rgb = to_rgb(image).copy()
    labels = score.labels
    positive_ids = score.measurements.id[score.classification.classes == POSITIVE]
    is_positive = np.zeros(int(labels.max(initial=0)) + 1, dtype=bool)
    is_positive[positive_ids] = True
    edges = mask_boundaries(labels)
    if thickness > 1:
        edges = ndimage.binary_dilation(edges, iterations=thickness - 1) & (labels > 0)
    positive = edges & is_positive[labels]
    rgb[positive] = CLASS_OUTLINE_COLOURS["Positive"]
    rgb[edges & ~positive] = CLASS_OUTLINE_COLOURS["Negative"]
    return rgb


def write_overlay(
    path: str | Path, image: np.ndarray, score: ImageScore, *, thickness: int = 1
) -> Path:
    """Write :func:`draw_class_outlines` as a PNG at ``path``."""
    return write_image(path, draw_class_outlines(image, score, thickness=thickness))


def write_ki67_outputs(
    out_dir: str | Path,
    images: Mapping[str, np.ndarray],
    scores: Mapping[str, ImageScore],
    *,
    thickness: int = 1,
) -> list[Path]:
    """Write ``summary.csv``, ``cells.csv`` and one ``NAME_overlay.png`` per image."""
    out = Path(out_dir)
    missing = sorted(set(scores) - set(images))
    if missing:
        raise ValueError(f"no image given for scored image {missing[0]!r}")
    written = [
        write_summary_csv(out / "summary.csv", scores),
        write_cells_csv(out / "cells.csv", scores),
    ]
    for name, score in scores.items():
        written.append(
            write_overlay(out / f"{name}_overlay.png", images[name], score, thickness=thickness)
        )
    return written
