"""The nuclei of a whole slide, streamed band by band: each nucleus exactly once, never cut.

:class:`SlideNuclei` predicts a slide's windows with the band iterator every slide prediction
shares (:func:`segkit.slides.bands.blend_bands`: the same window plan, blending and read-ahead
as :func:`segkit.slides.predict_slide`) and runs the watershed
(:func:`segkit.instances.labels_from_probabilities`) on a buffer of finished rows, all in
model pixels.

The seam rule. The buffer holds the rows of the finished bands not yet decided. After a band
is added the buffer spans model rows ``top .. bottom``; the watershed runs on all of it and a
nucleus is *kept* (yielded, once) when

1. its centroid row is above ``bottom - margin`` (every row at the slide's last band), and
2. less than half of its pixels were already kept in an earlier pass.

Other nuclei are deferred. The next buffer starts at ``bottom - 2 * margin``, or higher, at
the top of the highest deferred nucleus (at most ``4 * margin`` above ``bottom``), so a
deferred nucleus is seen whole again with the next band, and the rows of nuclei just kept
travel with it, marked as kept (rule 2: they and any piece of them are not kept twice).
A nucleus shorter than ``margin`` is never cut, since its centroid is ``margin`` rows above
the bottom of the buffer that keeps it; :attr:`SlideNuclei.cut` counts the kept nuclei that
touched a buffer edge nonetheless (larger than the margin).

One prediction for the mask and the nuclei: :meth:`SlideNuclei.passes` takes the bands of a
:class:`segkit.slides.predict.SlideMaskStream`. Resuming: after each pass :attr:`SlideNuclei.state`
says where the next one starts; :mod:`segkit.slides.nuclei_resume` saves it with the pass's
records, and ``passes(bands, state=...)`` continues from it (the bands from
:meth:`SlideNuclei.resume_band` are predicted again to fill the buffer).

Memory: the blender's band (:attr:`SlideNuclei.band_bytes`) plus the buffer, at most a band
and ``4 * margin`` rows of the model's width (:attr:`SlideNuclei.peak_buffer_bytes`), plus the
watershed's working memory over a piece of the buffer about :data:`CHUNK` columns wide
(pieces are cut at columns without foreground, see :func:`column_chunks`); nothing grows with
the slide's height.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from segkit.slides.bands import Band, BandBlender, blend_bands
from segkit.slides.base import Slide
from segkit.slides.nuclei_resume import NucleiState
from segkit.slides.stain import slide_normaliser
from segkit.slides.windows import WindowPlan, plan_windows, read_model_region, tissue_test

__all__ = ["CHUNK", "NucleusBand", "SlideNuclei", "column_chunks", "default_margin"]

#: The default seam margin in microns (about three nucleus diameters).
MARGIN_UM = 24.0


def default_margin(model_mpp: float | None) -> int:
    """Seam margin in model pixels: :data:`MARGIN_UM` at the model's scale, at least 32."""
    if model_mpp is None or not model_mpp > 0:
        return 48
    return max(32, math.ceil(MARGIN_UM / model_mpp))


@dataclass
class NucleusBand:
    """One pass of the watershed: its labels, and the nuclei it keeps.

    Attributes
    ----------
    top : int
        Model row of ``labels[0]``.
    labels : (n, Wm) uint16 or uint32 ndarray
        The watershed of the buffer, model pixels (ids not in ``ids`` belong to other passes).
    ids : (k,) ndarray of int
        The nuclei this pass keeps.
    proba : (n, Wm, K) float32 ndarray
        The buffer's blended probabilities.
    plan : WindowPlan
    """

    top: int
    labels: np.ndarray
    ids: np.ndarray
    proba: np.ndarray
    plan: WindowPlan

    def kept_labels(self) -> np.ndarray:
        """``labels`` with the nuclei of other passes set to 0."""
        lut = np.zeros(int(self.labels.max(initial=0)) + 1, dtype=self.labels.dtype)
        lut[self.ids] = self.ids
        return lut[self.labels]

    def image(self, slide: Slide) -> np.ndarray:
        """The RGB pixels under ``labels`` (model scale), read from ``slide``."""
        return read_model_region(slide, self.plan, (self.top, 0), self.labels.shape)

    def to_full(self) -> tuple[float, float]:
        """``(rows, cols)`` level-0 pixels per model pixel."""
        (h0, w0), (hm, wm) = self.plan.full_size, self.plan.model_size
        return h0 / hm, w0 / wm


class SlideNuclei:
    """The nuclei of a slide, as an iterable of :class:`NucleusBand` (see the module notes).

    Parameters
    ----------
    model : keras.Model, path or Run
        Anything :func:`segkit.models.resolve_model` takes.
    slide : Slide
    info : ModelInfo, optional
        Default: the model's saved info (its mpp and the slide's choose the scale).
    tile_size, overlap, batch_size, tissue, level
        As for :func:`segkit.slides.predict_slide`.
    threshold : float, optional
        Foreground threshold (default ``info.threshold``).
    min_area, h
        As for :func:`segkit.instances.labels_from_probabilities` (model pixels); the default
        ``min_area`` is 10 µm² when the slide's mpp is known, else 10 pixels.
    margin : int, optional
        Seam margin in model pixels (default :func:`default_margin`).
    progress : bool
        A progress bar.
    """

    def __init__(
        self,
        model: Any,
        slide: Slide,
        *,
        info: Any = None,
        tile_size: int | tuple[int, int] | None = None,
        overlap: float = 0.25,
        batch_size: int = 4,
        tissue: Any = None,
        level: int | None = None,
        threshold: float | None = None,
        min_area: int | None = None,
        h: float | None = None,
        margin: int | None = None,
        progress: bool = False,
    ) -> None:
        from segkit.instances.postprocess import DEFAULT_H, min_area_pixels
        from segkit.models.resolve import resolve_model

        if not isinstance(slide, Slide):
            raise TypeError(f"SlideNuclei: expected an open Slide, got {type(slide).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.model, self.info = resolve_model(model if info is None else (model, info))
        self.slide = slide
        self.plan, self.note = plan_windows(
            self.model, slide, self.info, tile_size=tile_size, overlap=overlap, level=level
        )
        if self.note is not None:
            warnings.warn(self.note, stacklevel=2)
        self.tissue = tissue(slide) if callable(tissue) else tissue
        self.batch_size = batch_size
        self.threshold = self.info.threshold if threshold is None else float(threshold)
        self.h = DEFAULT_H if h is None else float(h)
        self.margin = default_margin(self.model_mpp) if margin is None else int(margin)
        self.min_area = min_area_pixels(self.model_mpp) if min_area is None else int(min_area)
        if self.margin < 1:
            raise ValueError(f"margin must be >= 1 model pixel, got {margin!r}")
        self.progress = progress
        self.channels = int(self.model.output_shape[-1])
        self.predicted = self.skipped = self.cut = 0
        self.peak_buffer_bytes = 0
        self._band_bytes = 0
        self.state: NucleiState | None = None

    @property
    def model_mpp(self) -> float | None:
        """Microns per model pixel (None when the slide's is unknown)."""
        if self.slide.mpp is None:
            return None
        return float(self.slide.mpp[0]) * self.plan.full_size[1] / self.plan.model_size[1]

    @property
    def band_bytes(self) -> int:
        """Memory of the blender's band buffer: the most it held once iterated, else its bound.

        The bound, before: every column of the grid (:attr:`BandBlender.nbytes` at most).
        """
        if self._band_bytes:
            return self._band_bytes
        return self.plan.tile[0] * self.plan.grid_size[1] * (self.channels + 1) * 4

    def settings(self) -> dict[str, Any]:
        """Everything the nuclei depend on (as a resume record keeps it, JSON)."""
        from segkit.slides.predict import _settings

        found = _settings(self.slide, self.model, self.info, self.plan, self.tissue)
        return found | {"margin": self.margin, "threshold": self.threshold,
                        "min_area": self.min_area, "h": self.h}  # fmt: skip

    def __iter__(self) -> Iterator[NucleusBand]:
        return self.passes(self.bands())

    def bands(self, start: int = 0) -> Iterator[Band]:
        """Predict this object's plan from band ``start`` on (:func:`blend_bands`)."""
        from tqdm.auto import tqdm

        from segkit.inference.tiling import gaussian_importance

        plan = self.plan
        blender = BandBlender(plan.grid_size[1], gaussian_importance(plan.tile), self.channels)
        bar = tqdm(
            total=plan.windows,
            unit="tile",
            desc=self.slide.path.name,
            disable=not self.progress,
            dynamic_ncols=True,
        )
        test = tissue_test(self.tissue, self.slide, plan)
        bands = blend_bands(
            self.model,
            self.slide,
            plan,
            blender,
            test=test,
            color_model=self.info.color_model,
            batch_size=self.batch_size,
            start=start,
            bar=bar,
            stain=slide_normaliser(self.slide, plan, self.info, test),
        )
        with bar:
            for band in bands:
                self._band_bytes = blender.peak_nbytes
                yield band
        self._band_bytes = blender.peak_nbytes

    def resume_band(self, state: NucleiState | None) -> int:
        """The first band to predict to continue after ``state`` (0 for None)."""
        if state is None:
            return 0
        rows = self.plan.rows
        return max(j for j in range(len(rows)) if rows[j] <= state.top)

    def passes(
        self, bands: Iterable[Band], *, state: NucleiState | None = None
    ) -> Iterator[NucleusBand]:
        """The watershed passes over bands predicted elsewhere, e.g. with the slide's mask.

        ``bands`` are those of :func:`segkit.slides.bands.blend_bands` over this object's
        :attr:`plan`, every one from the first (as
        :class:`segkit.slides.predict.SlideMaskStream` yields them), so that one prediction
        of the slide gives both its mask and its nuclei; bands before the first one needed are
        passed over. With ``state`` (:attr:`state` after an earlier pass, e.g. of an
        interrupted run) the passes continue after that one, from band
        :meth:`resume_band` on. After each pass, :attr:`state` says where it stands.
        Iterating the object itself predicts the bands.
        """
        plan = self.plan
        hm = plan.model_size[0]
        proba: np.ndarray | None = None
        covered = kept = np.zeros((0, plan.model_size[1]), dtype=bool)
        top, expected, done, replay = 0, 0, 0, 0
        if state is not None:
            top, expected, done = state.top, self.resume_band(state), state.passes
            replay = state.band
            self.predicted, self.skipped, self.cut = state.predicted, state.skipped, state.cut
        first = expected
        for band in bands:
            if band.index < first:
                continue  # a band only the mask needed
            if band.index != expected or band.width != plan.model_size[1]:
                raise ValueError(
                    f"SlideNuclei.passes: band {band.index} of width {band.width} came where "
                    f"band {expected} of width {plan.model_size[1]} was due; the nuclei need "
                    "every band of their plan in order"
                )
            expected += 1
            if band.index < replay:  # predicted again to fill the buffer of the resumed pass
                skip = max(0, top - band.top)
                if band.height > skip:
                    rows = band.proba[skip:]
                    proba = rows if proba is None else np.concatenate([proba, rows])
                    covered = np.concatenate([covered, band.covered[skip:]])
                if band.index + 1 == replay:
                    if state is None or len(covered) != len(state.kept):
                        raise ValueError("SlideNuclei.passes: the resumed buffer does not match")
                    kept = np.array(state.kept, dtype=bool)
                continue
            self.predicted += band.predicted
            self.skipped += band.skipped
            if not band.height or top >= hm:  # the bands below the slide are read to the end
                continue
            proba = band.proba if proba is None else np.concatenate([proba, band.proba])
            covered = np.concatenate([covered, band.covered])
            kept = np.concatenate([kept, np.zeros_like(band.covered)])
            bottom = top + len(proba)
            last = bottom >= hm
            if not last and len(proba) <= 2 * self.margin:
                continue
            nbytes = proba.nbytes + covered.nbytes + kept.nbytes
            self.peak_buffer_bytes = max(self.peak_buffer_bytes, nbytes)
            labels, ids, start = self._pass(proba, covered, kept, top, last)
            done += 1
            after = hm if last else top + start
            self.state = NucleiState(after, band.index + 1, done, self.predicted, self.skipped,
                                     self.cut, kept[start:] if not last else kept[:0])  # fmt: skip
            yield NucleusBand(top, labels, ids, proba, plan)
            if last:  # the buffer is let go; the bands left are below the slide
                top, proba = hm, None
                continue
            proba, covered, kept = proba[start:], covered[start:], kept[start:]
            top += start

    def _pass(
        self, proba: np.ndarray, covered: np.ndarray, kept: np.ndarray, top: int, last: bool
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Watershed the buffer; ``(labels, kept ids, first row of the next buffer)``.

        Marks the kept nuclei in ``kept`` (in place).
        """
        labels = self._watershed(_nucleus_probabilities(proba, covered, self.info))
        n = len(proba)
        count = int(labels.max(initial=0))
        if count == 0:
            return labels, np.zeros(0, dtype=np.int64), max(0, n - 2 * self.margin)
        ids = np.arange(1, count + 1)
        area = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        rows = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None], labels.shape)
        centre = np.asarray(ndimage.sum_labels(rows, labels, ids)) / np.maximum(area, 1)
        claimed = np.asarray(ndimage.sum_labels(kept, labels, ids))
        boxes = ndimage.find_objects(labels)
        first_row = np.array([b[0].start if b else n for b in boxes])
        last_row = np.array([b[0].stop if b else 0 for b in boxes])
        line = n if last else n - self.margin
        new = 2 * claimed < area
        keep = new & (centre + 0.5 <= line)
        edge = (last_row >= n) & (not last) | (first_row == 0) & (top > 0)
        self.cut += int(np.count_nonzero(keep & edge))
        kept |= np.isin(labels, ids[keep])
        start = n - 2 * self.margin
        deferred = new & ~keep
        if deferred.any():
            start = min(start, int(first_row[deferred].min()))
        start = max(0, start, n - 4 * self.margin)
        return labels, ids[keep], start

    def _watershed(self, probs: np.ndarray) -> np.ndarray:
        """:func:`segkit.instances.labels_from_probabilities`, piece by piece across the width.

        First the buffer is cut at columns without foreground, which no nucleus crosses
        (:func:`column_chunks`); a piece still wider than :data:`CHUNK` + 2 margins is
        watershed in overlapping windows of ``CHUNK + 2 * margin`` columns, each keeping the
        nuclei whose centroid column lies in its own ``CHUNK`` columns and are not mostly
        taken by the window before (the seam rule of the rows, across). The working memory
        of the watershed (about 120 bytes a pixel) is then that of one window.
        """
        from segkit.instances.postprocess import _foreground_probability

        fg = _foreground_probability(probs)
        if fg is None:  # background, interior, boundary
            fg = 1.0 - probs[..., 0]
        occupied = np.asarray((fg >= self.threshold).any(axis=0))  # the foreground rule
        labels = np.zeros(probs.shape[:2], dtype=np.uint32)
        count = 0
        for cols in column_chunks(occupied):
            width, m = cols.stop - cols.start, self.margin
            step = CHUNK if width > CHUNK + 2 * m else width
            for c0 in range(cols.start, cols.stop, step):
                c1 = min(cols.stop, c0 + step)
                a, b = max(cols.start, c0 - m), min(cols.stop, c1 + m)
                count = self._window(probs[:, a:b], labels[:, a:b], (c0 - a, c1 - a), count)
        return labels

    def _window(self, probs: np.ndarray, into: np.ndarray, own: tuple[int, int], count: int) -> int:
        """Watershed one window; write the nuclei it owns into ``into`` from ``count + 1``."""
        from segkit.instances import labels_from_probabilities

        part = labels_from_probabilities(
            probs, threshold=self.threshold, min_area=self.min_area, h=self.h
        )
        n = int(part.max(initial=0))
        if n == 0:
            return count
        ids = np.arange(1, n + 1)
        area = np.bincount(part.ravel(), minlength=n + 1)[1:]
        cols = np.broadcast_to(np.arange(part.shape[1], dtype=np.float64), part.shape)
        centre = np.asarray(ndimage.sum_labels(cols, part, ids)) / np.maximum(area, 1)
        taken = np.asarray(ndimage.sum_labels(into > 0, part, ids))
        keep = (centre + 0.5 >= own[0]) & (centre + 0.5 < own[1]) & (2 * taken < area)
        lut = np.zeros(n + 1, dtype=np.uint32)
        lut[ids[keep]] = np.arange(count + 1, count + 1 + int(keep.sum()), dtype=np.uint32)
        new = lut[part]
        into[new > 0] = new[new > 0]
        return count + int(keep.sum())


#: Columns of a watershed piece (more where no foreground-free column comes sooner).
CHUNK = 2048


def column_chunks(occupied: np.ndarray, size: int = CHUNK) -> list[slice]:
    """Slices of about ``size`` columns over ``occupied``'s width, meeting at empty columns.

    ``occupied[j]`` says whether column ``j`` holds anything. Two neighbouring slices share
    one column that does not, so nothing connected is split, and the distance to the
    background near a cut is the one the whole width gives.
    """
    width = len(occupied)
    free = np.flatnonzero(~np.asarray(occupied, dtype=bool))
    chunks, start = [], 0
    while width - start > size:
        later = free[free >= start + size]
        if not len(later) or int(later[0]) >= width - 1:
            break
        cut = int(later[0])
        chunks.append(slice(start, cut + 1))
        start = cut
    chunks.append(slice(start, width))
    return chunks


def _nucleus_probabilities(proba: np.ndarray, covered: np.ndarray, info: Any) -> np.ndarray:
    """What the watershed takes (as for an image), with unpredicted pixels as background."""
    from segkit.instances.predict import instance_probabilities

    arr = proba[..., 0] if proba.shape[-1] == 1 else proba
    out = np.array(instance_probabilities(arr, info), dtype=np.float32)
    if out.ndim == 2:
        out[~covered] = 0.0
    else:
        out[~covered] = (1.0, 0.0, 0.0)
    return out
