"""Cut an annotated whole slide into prepared tiles (the worker's part for layout ``slides``).

A slide comes with a QuPath GeoJSON (level-0 pixel coordinates, QuPath's convention):

- **regions of interest** are its objects of type ``annotation`` whose class is not one of
  the template's classes (unclassified, ``Region*``, ``Tumor`` ...). Tiles lie on a grid from
  the slide's origin, each ``template size x (template mpp / slide mpp)`` level-0 pixels, and
  a tile is kept when at least :data:`ROI_MIN_FRACTION` of it lies inside the union of the
  regions (sampled on a grid of up to 8 x 8 points per tile);
- **nuclei** are its ``detection`` and ``cell`` objects (a cell's nucleus outline when it has
  one) and the annotations whose class is one of the template's; in each tile they are
  rasterised into the mask (class names matched as for layout ``polygons``,
  :func:`segkit.dataset.targets.class_index`) and the instance labels, in file order. Points
  are not used. A nucleus outside every region is still drawn in a kept tile that reaches it.

Pixels are read tile by tile from the level at least as fine as the template's mpp
(:func:`segkit.slides.level_for_mpp`) and shrunk with an area filter: a worker holds one tile,
its polygons and the slide's annotations, never a level. Tiles are named
``SLIDE__x{X}_y{Y}`` (their origin in level-0 pixels); all of them share the slide's group,
so a slide never spans two split parts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segkit.dataset.fit import FittedPair
from segkit.dataset.outputs import write_pair
from segkit.dataset.source_mpp import missing_mpp, mpp_fields
from segkit.dataset.targets import NO_INSTANCES, class_index
from segkit.dataset.tasks import PairTask, TaskContext, TaskResult, reuse_or_refuse
from segkit.files import sha256_file, stat_key
from segkit.template import DatasetTemplate

__all__ = ["ROI_MIN_FRACTION", "SlideAnnotations", "process_slide", "split_annotations"]

#: A tile is kept when at least this share of its area lies inside the regions of interest.
ROI_MIN_FRACTION = 0.5
_MAX_SAMPLES = 4_000_000  # points sampled for the region test of one slide
NEEDS_TILE = (
    "layout 'slides' cuts tiles: the template's fit must be 'tile' (segkit template --fit tile "
    "--mpp 0.5)"
)


@dataclass(frozen=True)
class SlideAnnotations:
    """The regions of interest and the nuclei of one slide (level-0 pixel coordinates)."""

    rois: tuple[Any, ...]
    nuclei: tuple[Any, ...]
    boxes: np.ndarray  # (N, 4) x0, y0, x1, y1 of each nucleus
    index: dict[str, int]


def split_annotations(annotations: Sequence[Any], template: DatasetTemplate) -> SlideAnnotations:
    """Sort a slide's annotations into regions of interest and nuclei (module docstring).

    Raises
    ------
    ValueError
        A nucleus class that is not among the template's.
    """
    from segkit.annotations import Points

    names = {n.lower() for n in template.classes.names[1:]}
    rois, nuclei = [], []
    for a in annotations:
        if isinstance(a.geometry, Points):
            continue
        if a.object_type == "annotation" and str(a.class_name).lower() not in names:
            rois.append(a)
        elif a.object_type == "cell" and a.nucleus is not None:
            nuclei.append(dataclasses.replace(a, geometry=a.nucleus, nucleus=None))
        else:
            nuclei.append(a)
    nuclei = [a if a.class_name is not None else dataclasses.replace(a, class_name="None")
              for a in nuclei]  # fmt: skip
    index = class_index(template, {None if a.class_name == "None" else a.class_name
                                   for a in nuclei})  # fmt: skip
    boxes = np.array([_box(a.geometry) for a in nuclei], dtype=np.float64).reshape(-1, 4)
    return SlideAnnotations(tuple(rois), tuple(nuclei), boxes, index)


def _rings(geometry: Any) -> list[np.ndarray]:
    parts = getattr(geometry, "polygons", None) or (geometry,)
    return [p.exterior for p in parts]


def _box(geometry: Any) -> tuple[float, float, float, float]:
    pts = np.concatenate(_rings(geometry))
    return (*pts.min(axis=0), *pts.max(axis=0))


def _moved(annotation: Any, origin: tuple[float, float], step: tuple[float, float]) -> Any:
    """``annotation`` in the pixels of a grid with ``origin`` and ``step`` (level-0 px/pixel)."""
    from segkit.annotations import MultiPolygon, Polygon

    def move(p: Polygon) -> Polygon:
        o, s = np.asarray(origin), np.asarray(step)
        return Polygon((p.exterior - o) / s, tuple((h - o) / s for h in p.holes))

    g = annotation.geometry
    geometry = (
        MultiPolygon(tuple(move(p) for p in g.polygons)) if hasattr(g, "polygons") else move(g)
    )
    return dataclasses.replace(annotation, geometry=geometry)


def kept_tiles(
    rois: Sequence[Any], footprint: tuple[float, float], slide_size: tuple[int, int]
) -> Iterator[tuple[int, int]]:
    """``(row, col)`` of the grid tiles that lie at least :data:`ROI_MIN_FRACTION` inside
    the regions; ``footprint`` is a tile's ``(width, height)`` in level-0 pixels."""
    from segkit.annotations import rasterize_classes

    if not rois:
        return
    fw, fh = footprint
    boxes = np.array([_box(a.geometry) for a in rois])
    c0 = max(0, int(boxes[:, 0].min() // fw))
    r0 = max(0, int(boxes[:, 1].min() // fh))
    c1 = min(int(np.ceil(slide_size[0] / fw)), int(boxes[:, 2].max() // fw) + 1)
    r1 = min(int(np.ceil(slide_size[1] / fh)), int(boxes[:, 3].max() // fh) + 1)
    if c1 <= c0 or r1 <= r0:
        return
    k = int(max(1, min(8, np.sqrt(_MAX_SAMPLES / ((c1 - c0) * (r1 - r0))))))
    step = (fw / k, fh / k)
    moved = [dataclasses.replace(_moved(a, (c0 * fw, r0 * fh), step), class_name="roi")
             for a in rois]  # fmt: skip
    inside = rasterize_classes(moved, ((r1 - r0) * k, (c1 - c0) * k), {"roi": 1})
    share = inside.reshape(r1 - r0, k, c1 - c0, k).mean(axis=(1, 3))
    for r, c in zip(*np.nonzero(share >= ROI_MIN_FRACTION), strict=True):
        yield int(r + r0), int(c + c0)


def _sha256(path: Path) -> str:
    return sha256_file(path)


def _source_stat(path: Path) -> str:
    """``size:mtime_ns:ctime_ns:inode`` (:func:`segkit.files.stat_key`) as the record keeps it."""
    return ":".join(str(v) for v in stat_key(path.stat()))


def _slide_sha256(path: Path, stat: str, previous: Any) -> str:
    """The slide's SHA-256: the earlier records' when all were taken at this ``stat``."""
    records = list(previous or ())
    if records and all(r.get("source_stat") == stat for r in records):
        digest = records[0].get("source_image_sha256")
        if isinstance(digest, str) and len(digest) == 64:
            return digest
    return _sha256(path)


def process_slide(task: PairTask, ctx: TaskContext) -> TaskResult:
    """Prepare the tiles of one slide; a bad file gives ``"skip"``, never an exception."""
    from segkit.slides import open_slide

    src = Path(ctx.src)
    template = DatasetTemplate.from_dict(ctx.template)
    if template.fit != "tile":
        return TaskResult("refuse", problems=((task.image, NEEDS_TILE),))
    assert task.annotations is not None
    try:
        stat = _source_stat(src / task.image)
        img_sha = _slide_sha256(src / task.image, stat, task.previous)
        ann_sha = _sha256(src / task.annotations)
        slide = open_slide(src / task.image)
    except (OSError, ValueError) as exc:
        return TaskResult("skip", problems=((task.image, _message(exc, src)),))
    with closing(slide):
        mpp = None if slide.mpp is None else (slide.mpp[0] + slide.mpp[1]) / 2
        source_mpp = mpp if mpp is not None else ctx.source_mpp
        if template.mpp is not None and source_mpp is None:
            return TaskResult("refuse", problems=((task.image, missing_mpp(template.mpp)),))
        decided = reuse_or_refuse(
            task, ctx, img_sha, ann_sha, source_mpp=source_mpp, template_mpp=template.mpp,
            updates={"source_stat": stat},
        )  # fmt: skip
        if decided is not None:
            return decided
        if ctx.refuse_changes and not task.previous:
            return TaskResult("changed", problems=((task.image, "changed since the last run"),))
        try:
            from segkit.annotations import read_qupath_geojson

            found = split_annotations(read_qupath_geojson(src / task.annotations), template)
        except ValueError as exc:
            return TaskResult("skip", problems=((task.annotations, _message(exc, src)),))
        if not found.rois:
            reason = "no regions of interest (objects of type 'annotation') to cut tiles from"
            return TaskResult("skip", problems=((task.annotations, reason),))
        if template.target == "instances" and not found.nuclei:
            return TaskResult("skip", problems=((task.image, NO_INSTANCES),))
        source = {
            "source_image": task.image,
            "source_mask": "",
            "source_annotations": task.annotations,
            "source_image_sha256": img_sha,
            "source_mask_sha256": ann_sha,
            "source_stat": stat,
            "source_size": [int(slide.level_dimensions[0][1]), int(slide.level_dimensions[0][0])],
        }
        records = [
            write_pair(fitted, name, task.split, task.group, template, Path(ctx.out),
                       {**source, **mpp_fields(source_mpp, template.mpp, fitted.scale)})
            for name, fitted in _tiles(slide, found, template, task.name, source_mpp)
        ]  # fmt: skip
    if not records:
        reason = f"no tile lies {ROI_MIN_FRACTION:.0%} inside the regions of interest"
        return TaskResult("skip", problems=((task.annotations, reason),))
    return TaskResult("ok", tuple(records))


def _message(exc: Exception, src: Path) -> str:
    return str(exc).replace(str(src) + "/", "")


def _tiles(
    slide: Any,
    found: SlideAnnotations,
    template: DatasetTemplate,
    name: str,
    source_mpp: float | None,
) -> Iterator[tuple[str, FittedPair]]:
    """Each kept tile, read, shrunk and rasterised (one at a time)."""
    from segkit.annotations import rasterize_classes, rasterize_instances
    from segkit.imaging import resize_image, to_color_model
    from segkit.slides import level_for_mpp

    rows, cols = template.size
    d = 1.0 if template.mpp is None else template.mpp / float(source_mpp)  # type: ignore[arg-type]
    level = 0
    if template.mpp is not None:
        level, _ = level_for_mpp(slide, template.mpp, assume=source_mpp)
    ds = slide.level_downsamples[level]
    fw, fh = cols * d, rows * d
    read = (max(1, round(fw / ds)), max(1, round(fh / ds)))
    for r, c in kept_tiles(found.rois, (fw, fh), slide.level_dimensions[0]):
        x, y = round(c * fw), round(r * fh)
        pixels = slide.read_region((round(x / ds), round(y / ds)), read, level=level)
        if pixels.shape[:2] != (rows, cols):
            pixels = resize_image(pixels, (rows, cols))
        b = found.boxes
        near = np.nonzero(
            (b[:, 2] >= x) & (b[:, 0] <= x + fw) & (b[:, 3] >= y) & (b[:, 1] <= y + fh)
        )[0]
        moved = [_moved(found.nuclei[i], (x, y), (d, d)) for i in near]
        mask = rasterize_classes(moved, (rows, cols), found.index)
        labels = rasterize_instances(moved, (rows, cols)) if found.nuclei else None
        fitted = FittedPair(
            to_color_model(pixels, template.color_model), mask, (1 / d, 1 / d), (r, c),
            instances=labels,
        )  # fmt: skip
        yield f"{name}__x{x}_y{y}", fitted
