"""Reading a slide's prediction windows ahead of the model, and skipping glass.

A :class:`WindowPlan` (made by :func:`plan_windows`) says where the windows of a slide lie:
the level read, the extra scale from that level's pixels to the model's, and the window grid
(that of :func:`segkit.inference.tiling.tile_grid`). :func:`read_batches` reads the windows of the
grid's rows in a thread, a bounded queue ahead of the model, and yields batches of the
windows that touch tissue, one row of windows at a time, each row closed by a
:class:`RowDone`.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from segkit.slides.base import Slide, best_level

__all__ = [
    "Batch",
    "RowDone",
    "TissueTest",
    "WindowPlan",
    "looks_like_tissue",
    "plan_windows",
    "read_batches",
    "read_model_region",
    "tissue_test",
]

#: A pixel is not glass where its darkest channel is below this.
NOT_WHITE = 220
#: Without a tissue mask, a window is predicted when at least this share of it is not glass.
MIN_TISSUE_SHARE = 0.001
_SNAP = 2e-3  # a level within 0.2 % of the model's scale is read as it is

#: ``(row, col)`` of a window in model pixels -> True (tissue), False (glass) or None (look).
TissueTest = Callable[[int, int], "bool | None"]


@dataclass(frozen=True)
class WindowPlan:
    """Where the prediction windows of a slide lie.

    Attributes
    ----------
    level : int
        The level read.
    scale : (float, float)
        ``(rows, cols)`` model pixels per pixel of that level (1.0: read as it is).
    model_size : (int, int)
        ``(rows, cols)`` of the slide in model pixels (the image that is predicted).
    tile : (int, int)
        Window ``(rows, cols)``.
    rows, cols : tuple of int
        Window starts (:func:`segkit.inference.tiling.tile_starts` over the grid).
    full_size : (int, int)
        ``(rows, cols)`` of level 0, the mask's size.
    """

    level: int
    scale: tuple[float, float]
    model_size: tuple[int, int]
    tile: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    full_size: tuple[int, int]

    @property
    def grid_size(self) -> tuple[int, int]:
        """``(rows, cols)`` the windows cover (the model size, or a window if smaller)."""
        return (self.rows[-1] + self.tile[0], self.cols[-1] + self.tile[1])

    @property
    def windows(self) -> int:
        return len(self.rows) * len(self.cols)

    def to_full(self, r: float, c: float) -> tuple[float, float]:
        """Model pixel ``(row, col)`` in level-0 pixels."""
        return (
            r * self.full_size[0] / self.model_size[0],
            c * self.full_size[1] / self.model_size[1],
        )


def _model_size(slide: Slide, info: Any) -> tuple[tuple[int, int], str | None]:
    """``(rows, cols)`` of level 0 at the model's scale, and the note when it was assumed."""
    w0, h0 = slide.level_dimensions[0]
    if slide.mpp is not None and info.mpp is not None:
        fy, fx = slide.mpp[1] / info.mpp, slide.mpp[0] / info.mpp
        note = None
    else:
        fy, fx = info.scale
        if slide.mpp is None:
            why = "has no microns per pixel"
        else:
            why = "has microns per pixel but the model does not (ModelInfo.mpp)"
        note = (
            f"slide {slide.path.name} {why}: assumed that its level 0 has the scale of the "
            f"model's raw images and resized it by the model's scale {fy:g} x {fx:g} "
            "(ModelInfo.scale)"
        )
    return (max(1, round(h0 * fy)), max(1, round(w0 * fx))), note


def plan_windows(
    model: Any,
    slide: Slide,
    info: Any,
    *,
    tile_size: int | tuple[int, int] | None = None,
    overlap: float = 0.25,
    level: int | None = None,
) -> tuple[WindowPlan, str | None]:
    """Where the windows lie: the level, the extra scale, the grid; and the assumed scale.

    The level is the smallest one not coarser than the model's scale
    (:func:`segkit.slides.base.best_level`), unless ``level`` is given; it is resized by the
    remaining factor (area filter when shrinking). A level within 0.2 % of the model's
    scale is read as it is.
    """
    from segkit.inference.predict import window_size
    from segkit.inference.tiling import tile_starts

    (hm, wm), note = _model_size(slide, info)
    w0, h0 = slide.level_dimensions[0]
    if level is None:
        level = best_level(slide, min(w0 / wm, h0 / hm))
    if not 0 <= level < len(slide.level_dimensions):
        last = len(slide.level_dimensions) - 1
        raise ValueError(f"level {level}: slide {slide.path.name} has levels 0..{last}")
    wl, hl = slide.level_dimensions[level]
    if abs(hm / hl - 1) < _SNAP and abs(wm / wl - 1) < _SNAP:
        hm, wm = hl, wl
    scale = (1.0, 1.0) if (hm, wm) == (hl, wl) else (hm / hl, wm / wl)
    tile = window_size(model, info, tile_size, (hm, wm))
    grid = (max(hm, tile[0]), max(wm, tile[1]))
    plan = WindowPlan(
        level=int(level),
        scale=scale,
        model_size=(hm, wm),
        tile=tile,
        rows=tuple(tile_starts(grid[0], tile[0], overlap)),
        cols=tuple(tile_starts(grid[1], tile[1], overlap)),
        full_size=(h0, w0),
    )
    return plan, note


@dataclass
class Batch:
    """Windows of one row, ready for the model (padded up to the batch size with zeros)."""

    row: int
    pixels: np.ndarray  # (batch_size, th, tw, C) uint8: the model casts it (a quarter of float32)
    cols: list[int]  # the windows' column starts; len(cols) <= batch_size
    examined: int  # windows looked at since the previous item (skipped ones included)


@dataclass
class RowDone:
    """Every window of row ``row`` was given; ``predicted`` and ``skipped`` count them."""

    row: int
    predicted: int
    skipped: int
    examined: int


def looks_like_tissue(rgb: np.ndarray) -> bool:
    """The fallback tissue test: at least :data:`MIN_TISSUE_SHARE` of the pixels are not white."""
    dark = rgb.min(axis=2) < NOT_WHITE if rgb.ndim == 3 else rgb < NOT_WHITE
    return bool(dark.mean() >= MIN_TISSUE_SHARE)


def _mask_and_downsample(tissue: Any, full_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    if isinstance(tissue, tuple) and len(tissue) == 2:
        mask, downsample = tissue
    elif hasattr(tissue, "mask") and hasattr(tissue, "downsample"):
        mask, downsample = tissue.mask, tissue.downsample
    else:
        mask = tissue
        downsample = full_size[1] / np.asarray(mask).shape[1]
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"tissue: expected an (M, N) boolean mask, got shape {arr.shape}")
    if not float(downsample) > 0:
        raise ValueError(f"tissue: the mask's downsample must be > 0, got {downsample!r}")
    return arr.astype(bool, copy=False), float(downsample)


def tissue_test(tissue: Any, slide: Slide, plan: WindowPlan) -> TissueTest:
    """A window test from ``tissue``.

    Parameters
    ----------
    tissue : None, (mask, downsample), object with ``mask`` and ``downsample``, mask, callable
        A boolean ``(M, N)`` tissue mask of the slide with its downsample (level-0 pixels per
        mask pixel; inferred from the widths for a bare mask); a callable takes the slide and
        returns one of these. None: every window is read and predicted when
        :func:`looks_like_tissue`.
    """
    if tissue is None:
        return lambda r, c: None
    if callable(tissue):
        tissue = tissue(slide)
    mask, ds = _mask_and_downsample(tissue, plan.full_size)
    th, tw = plan.tile

    def test(r: int, c: int) -> bool:
        y0, x0 = plan.to_full(r, c)
        y1, x1 = plan.to_full(r + th, c + tw)
        i0, j0 = max(0, math.floor(y0 / ds)), max(0, math.floor(x0 / ds))
        i1, j1 = math.ceil(y1 / ds), math.ceil(x1 / ds)
        return bool(mask[i0:i1, j0:j1].any())

    return test


def _read_window(slide: Slide, plan: WindowPlan, r: int, c: int) -> np.ndarray:
    """RGB ``(th, tw, 3)`` uint8 of the window at model pixel ``(r, c)``."""
    return read_model_region(slide, plan, (r, c), plan.tile)


def read_model_region(
    slide: Slide, plan: WindowPlan, origin: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray:
    """RGB ``(h, w, 3)`` uint8 of the slide at the model's scale, from model pixel ``origin``.

    ``origin`` is ``(row, col)`` and ``shape`` ``(h, w)``, in model pixels: the pixels the
    windows of ``plan`` see (the plan's level, resized by its scale).
    """
    (r, c), (th, tw) = origin, shape
    sy, sx = plan.scale
    if (sy, sx) == (1.0, 1.0):
        return slide.read_region((c, r), (tw, th), level=plan.level)
    from segkit.imaging import resize_image

    x0, y0 = math.floor(c / sx), math.floor(r / sy)
    x1, y1 = math.ceil((c + tw) / sx), math.ceil((r + th) / sy)
    region = slide.read_region((x0, y0), (x1 - x0, y1 - y0), level=plan.level)
    size = (max(1, round((y1 - y0) * sy)), max(1, round((x1 - x0) * sx)))
    scaled = resize_image(region, size)
    oy, ox = max(0, round(r - y0 * sy)), max(0, round(c - x0 * sx))
    window = scaled[oy : oy + th, ox : ox + tw]
    if window.shape[:2] != (th, tw):
        pad = ((0, th - window.shape[0]), (0, tw - window.shape[1]), (0, 0))
        window = np.pad(window, pad, mode="edge")
    return window


#: Widest region (model pixels) read at once for a run of overlapping windows of one row.
MAX_RUN = 4096


def _row_windows(
    slide: Slide, plan: WindowPlan, r: int, test: TissueTest
) -> Iterator[tuple[int, bool | None, np.ndarray | None]]:
    """``(col, test result, RGB or None on glass)`` of every window of the row at ``r``.

    A level read as it is is read one run of overlapping windows at a time (up to
    :data:`MAX_RUN` wide), so that each slide tile under the run is decoded once, not once
    per window; the windows are cut from it (the same pixels). A resized level is read window
    by window (:func:`read_model_region`).
    """
    th, tw = plan.tile
    known = [test(r, c) for c in plan.cols]
    run: list[int] = []  # indices of the run being gathered

    def emit(run: list[int]) -> Iterator[tuple[int, bool | None, np.ndarray | None]]:
        c0, c1 = plan.cols[run[0]], plan.cols[run[-1]] + tw
        region = slide.read_region((c0, r), (c1 - c0, th), level=plan.level)
        for k in run:
            c = plan.cols[k]
            yield c, known[k], region[:, c - c0 : c - c0 + tw]

    for k, c in enumerate(plan.cols):
        if known[k] is False:
            yield from emit(run) if run else ()
            run = []
            yield c, False, None
            continue
        if plan.scale != (1.0, 1.0):
            yield c, known[k], _read_window(slide, plan, r, c)
            continue
        if run and (c >= plan.cols[run[-1]] + tw or c + tw - plan.cols[run[0]] > MAX_RUN):
            yield from emit(run)
            run = []
        run.append(k)
    if run:
        yield from emit(run)


def _to_model(rgb: np.ndarray, color_model: str) -> np.ndarray:
    """The window in the model's colour model, as in :func:`segkit.inference.prepare_image`."""
    from segkit.imaging import binarize, to_color_model

    arr = to_color_model(rgb, color_model)
    if color_model == "binary":
        arr = binarize(arr)  # per window: a slide has no single Otsu threshold in memory
    return arr if arr.ndim == 3 else arr[..., None]


def read_batches(
    slide: Slide,
    plan: WindowPlan,
    *,
    test: TissueTest,
    color_model: str,
    batch_size: int,
    start_row: int = 0,
    ahead: int = 2,
    stain: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[Batch | RowDone]:
    """Batches of tissue windows, row by row from ``start_row``, read in a thread.

    The thread keeps at most ``ahead`` items ready, so memory holds ``ahead + 2`` batches.
    ``stain`` (:func:`segkit.slides.stain.slide_normaliser`) is applied to each RGB window
    before it is brought to the colour model.
    """
    channels = 3 if color_model == "rgb" else 1
    th, tw = plan.tile
    items: queue.Queue[Batch | RowDone | BaseException | None] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Batch | RowDone | BaseException | None) -> None:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for i in range(start_row, len(plan.rows)):
                r = plan.rows[i]
                predicted = skipped = examined = 0
                pixels = np.zeros((batch_size, th, tw, channels), dtype=np.uint8)
                cols: list[int] = []
                for c, known, rgb in _row_windows(slide, plan, r, test):
                    if stop.is_set():
                        return
                    examined += 1
                    if rgb is None:
                        skipped += 1
                        continue
                    if known is None and not looks_like_tissue(rgb):
                        skipped += 1
                        continue
                    if stain is not None:
                        rgb = stain(rgb)
                    pixels[len(cols)] = _to_model(rgb, color_model)
                    cols.append(c)
                    predicted += 1
                    if len(cols) == batch_size:
                        put(Batch(i, pixels, cols, examined))
                        pixels = np.zeros_like(pixels)
                        cols, examined = [], 0
                if cols:
                    put(Batch(i, pixels, cols, examined))
                    examined = 0
                put(RowDone(i, predicted, skipped, examined))
            put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=produce, name="segkit-slide-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
