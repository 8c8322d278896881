"""Predict the mask of a whole slide in bounded memory; write it as a pyramidal OME-TIFF.

:func:`predict_slide` reads the level nearest to the model's microns per pixel, brings it to
the model's scale, and predicts the Gaussian-blended sliding windows of
:mod:`segkit.inference.tiling` (the same grid and weights as :func:`segkit.inference.predict`
of the whole image), skipping windows over glass. The windows are blended one band of rows
at a time (:class:`segkit.slides.bands.BandBlender`), only in the column spans the predicted
windows cover; each span of a finished band becomes mask rows by the one decision rule
(:mod:`segkit.decision`), is brought to the slide's full resolution (nearest) and goes to a
:class:`segkit.slides.writer.PyramidMaskWriter`, which holds only the tiles the spans touch;
the glass between spans is never decided, resized or stored (the TIFF gets one pre-encoded
zero tile for it). :class:`SlideMaskStream` yields the written bands, so that the nuclei
(:meth:`segkit.slides.cells.SlideNuclei.passes`) share the one prediction.

Memory, for ``S`` model pixels of tissue spans across a band (blocks of ``B = tw`` columns,
so rounded up to them), windows of ``th x tw``, K output channels and ``f`` level-0 pixels
per model pixel::

    band buffer   th x S x (K + 1) x 4 bytes       (sums and weights, float32)
    finished band th x S x (K + 1) x 4 bytes       (probabilities, at most)
    mask rows     th x f x S x f bytes + the 512 x 512 tiles the spans touch
    windows       (batch_size x th x tw x C x 4) x 4 (two batches read ahead, two in use)

nothing of which grows with the slide's height, nor, for the same tissue, with its width
(the writer builds and writes the pyramid one tile at a time). A band all of tissue 100,000
px wide at level 0, with 512-px windows and a binary model, holds about 0.4 GB of band buffer.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segkit.slides.bands import Band, BandBlender, blend_bands, nearest_index
from segkit.slides.base import Slide
from segkit.slides.resume import (
    SlideProgress,
    array_digest,
    model_digest,
    progress_path,
    settings_changes,
)
from segkit.slides.stain import slide_normaliser
from segkit.slides.windows import WindowPlan, plan_windows, tissue_test
from segkit.slides.writer import PyramidMaskWriter

__all__ = ["SlideMaskStream", "SlideResult", "predict_slide", "slide_name"]

MASK_TILE = 512  # tile side of the written OME-TIFF


def slide_name(path: str | Path) -> str:
    """The slide's name without its extensions: ``a.ome.tif`` -> ``a``, ``b.svs`` -> ``b``."""
    name = Path(path).name
    for suffix in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem if "." in name.strip(".") else name


@dataclass(frozen=True)
class SlideResult:
    """What :func:`predict_slide` did.

    Attributes
    ----------
    path : Path
        The mask, ``OUT/NAME.ome.tif`` (level-0 size, class indices; {0, 255} if binary).
    size : (int, int)
        ``(width, height)`` of the mask (the slide's level 0).
    mpp : (float, float) or None
        Microns per pixel of the mask (the slide's level 0).
    level : int
        The slide level that was read.
    scale : (float, float)
        ``(rows, cols)`` model pixels per pixel of that level.
    assumed_scale : str or None
        When a microns per pixel was unknown: which scale was assumed, in words.
    tile_size : (int, int)
    windows, predicted, skipped : int
        Windows of the grid, predicted ones, and ones skipped over glass.
    resumed_from_band : int
        First band predicted by this call (0: a fresh start; ``bands`` when the slide was
        already finished and nothing was predicted).
    bands : int
        Bands (rows of windows) of the slide.
    band_bytes : int
        Memory of the band buffer.
    seconds : float
        Time this call took.
    """

    path: Path
    size: tuple[int, int]
    mpp: tuple[float, float] | None
    level: int
    scale: tuple[float, float]
    assumed_scale: str | None
    tile_size: tuple[int, int]
    windows: int
    predicted: int
    skipped: int
    resumed_from_band: int
    bands: int
    band_bytes: int
    seconds: float

    @property
    def skipped_share(self) -> float:
        """Share of the windows skipped over glass."""
        return self.skipped / self.windows if self.windows else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        out["skipped_share"] = self.skipped_share
        return out


def _tissue_digest(tissue: Any) -> str:
    if tissue is None:
        return "not-white"
    if isinstance(tissue, tuple):
        return f"{array_digest(np.asarray(tissue[0], dtype=bool))}@{float(tissue[1]):g}"
    if hasattr(tissue, "mask"):
        mask = np.asarray(tissue.mask, dtype=bool)
        return f"{array_digest(mask)}@{float(tissue.downsample):g}"
    return array_digest(np.asarray(tissue, dtype=bool))


def _settings(slide: Slide, model: Any, info: Any, plan: WindowPlan, tissue: Any) -> dict:
    out = {
        "slide": slide.path.name,
        "size": list(plan.full_size),
        "level": plan.level,
        "model_size": list(plan.model_size),
        "tile": list(plan.tile),
        "rows": len(plan.rows),
        "cols": len(plan.cols),
        "weights": model_digest(model),
        "num_classes": info.num_classes,
        "threshold": info.threshold,
        "target": info.target,
        "color_model": info.color_model,
        "tissue": _tissue_digest(tissue),
    }
    if not info.stain_normalisation.is_none:
        out["stain_normalisation"] = info.stain_normalisation.to_dict()
    return out


def _decide(proba: np.ndarray, covered: np.ndarray, info: Any) -> np.ndarray:
    """Encoded mask rows: the one decision rule; no window predicted is background."""
    from segkit.decision import instance_probabilities_to_mask, probabilities_to_mask
    from segkit.imaging import encode_mask

    if info.target == "instances":
        mask = instance_probabilities_to_mask(proba, threshold=info.threshold)
    else:
        mask = probabilities_to_mask(proba, threshold=info.threshold)
    mask[~covered] = 0
    return encode_mask(mask, info.num_classes)


def _start(
    record: SlideProgress | None, settings: dict, file: Path, path: Path, store: Path
) -> SlideProgress:
    """The record to continue (or a new one); refuses one made with other settings."""
    if record is not None:
        changed = settings_changes(record.settings, settings)
        if changed:
            raise ValueError(
                f"{file} records a prediction of {settings['slide']} with other settings "
                f"({', '.join(changed)}); pass resume=False to predict it again"
            )
        if record.finished and path.is_file() or not record.finished and store.is_dir():
            return record
        gone = store if not record.finished else path
        warnings.warn(f"{gone} is missing; predicting {settings['slide']} again", stacklevel=3)
    file.unlink(missing_ok=True)
    return SlideProgress(settings=settings, store=store.name)


def predict_slide(
    model: Any,
    slide: Slide,
    out_dir: str | Path,
    *,
    info: Any = None,
    tile_size: int | tuple[int, int] | None = None,
    overlap: float = 0.25,
    batch_size: int = 4,
    tissue: Any = None,
    level: int | None = None,
    progress: bool = True,
    resume: bool = True,
) -> SlideResult:
    """Predict a slide's mask window by window and write ``OUT/NAME.ome.tif``.

    Parameters
    ----------
    model : keras.Model, path or Run
        Anything :func:`segkit.models.resolve_model` takes.
    slide : Slide
        An open slide (:class:`segkit.slides.Slide`).
    out_dir : path
        Gets ``NAME.ome.tif`` (NAME: :func:`slide_name`) and, while the prediction runs,
        ``.NAME.slide-progress.json`` and the mask store ``.NAME.zarr``.
    info : ModelInfo, optional
        Default: the model's saved info. ``info.mpp`` and the slide's mpp choose the level
        and the scale; when either is unknown, ``info.scale`` is applied to level 0 and a
        warning (and :attr:`SlideResult.assumed_scale`) says so.
    tile_size : int or (int, int), optional
        Window size in model pixels; default as :func:`segkit.inference.predict`.
    overlap : float
        Fraction of a window shared with its neighbours, in [0, 1).
    batch_size : int
        Windows per call of the model (a row's last batch is padded with zeros).
    tissue : optional
        ``(mask, downsample)``: a boolean tissue mask and its level-0 pixels per mask pixel
        (or an object with ``mask`` and ``downsample``, or a callable taking the slide and
        returning one). Windows that touch no tissue are skipped unread. None: every window
        is read and skipped when nearly white (:func:`segkit.slides.windows.looks_like_tissue`).
    level : int, optional
        Read this level instead of the one the scales choose (still resized to the model's
        scale).
    progress : bool
        A progress bar (windows per second, time left).
    resume : bool
        Continue an interrupted prediction from its first unfinished band, or return at once
        when the slide is finished; False predicts again from the start.

    Returns
    -------
    SlideResult
    """
    stream = SlideMaskStream(
        model, slide, out_dir, info=info, tile_size=tile_size, overlap=overlap,
        batch_size=batch_size, tissue=tissue, level=level, progress=progress, resume=resume,
    )  # fmt: skip
    for _ in stream:
        pass
    assert stream.result is not None
    return stream.result


class SlideMaskStream:
    """:func:`predict_slide` as an iterable of the bands it predicts and writes.

    Takes the arguments of :func:`predict_slide`. Iterating predicts the slide, writes each
    band's mask rows, then yields the band (:class:`segkit.slides.bands.Band`), so that
    another consumer (the nuclei, :meth:`segkit.slides.cells.SlideNuclei.passes`) shares the
    one prediction; after the last band the OME-TIFF is written and :attr:`result` is set.
    A resumed prediction yields the bands from the first one not done, a finished one none.

    Attributes
    ----------
    plan : WindowPlan
    info : ModelInfo
    first_band : int
        The first band this stream predicts (``bands`` when the slide is finished).
    result : SlideResult or None
        Set when the iteration is over.
    """

    def __init__(
        self,
        model: Any,
        slide: Slide,
        out_dir: str | Path,
        *,
        info: Any = None,
        tile_size: int | tuple[int, int] | None = None,
        overlap: float = 0.25,
        batch_size: int = 4,
        tissue: Any = None,
        level: int | None = None,
        progress: bool = True,
        resume: bool = True,
    ) -> None:
        from segkit.models.resolve import resolve_model

        self.started = time.monotonic()
        if not isinstance(slide, Slide):
            raise TypeError(
                f"predict_slide: expected an open Slide, got {type(slide).__name__}; open a "
                "file with segkit.slides first"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.model, self.info = resolve_model(model if info is None else (model, info))
        self.plan, self.note = plan_windows(
            self.model, slide, self.info, tile_size=tile_size, overlap=overlap, level=level
        )
        if self.note is not None:
            warnings.warn(self.note, stacklevel=3)
        self.slide, self.batch_size, self.progress = slide, batch_size, progress
        self.tissue = tissue(slide) if callable(tissue) else tissue
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        name = slide_name(slide.path)
        self.file = progress_path(out, name)
        self.path, self.store = out / f"{name}.ome.tif", out / f".{name}.zarr"
        self.settings = _settings(slide, self.model, self.info, self.plan, self.tissue)
        loaded = SlideProgress.load(self.file) if resume else None
        self.record = _start(loaded, self.settings, self.file, self.path, self.store)
        finished = self.record.finished and self.path.is_file()
        self.first_band = len(self.plan.rows) if finished else self.record.bands_done
        self.result: SlideResult | None = None

    @property
    def finished(self) -> bool:
        """The mask was already written: iterating yields no band."""
        return self.first_band >= len(self.plan.rows)

    def restart_at(self, band: int) -> None:
        """Yield the bands from ``band`` on (if earlier than :attr:`first_band`), e.g. for the
        nuclei of a resumed slide; the mask rows already stored are not written again."""
        if not self.finished:
            self.first_band = max(0, min(self.first_band, int(band)))

    def __iter__(self) -> Iterator[Band]:
        plan, record = self.plan, self.record
        if not self.finished:
            channels = int(self.model.output_shape[-1])
            blender = BandBlender(plan.grid_size[1], _weights(plan.tile), channels, plan.rows[0])
            writer = PyramidMaskWriter(
                self.path,
                (plan.full_size[1], plan.full_size[0]),
                mpp=self.slide.mpp,
                tile=MASK_TILE,
                store=self.store,
                rows_done=record.rows_done,
            )
            yield from _stream(self, blender, writer)
            writer.finish()
            record.finished = True
            record.save(self.file)
        self.result = SlideResult(
            path=self.path,
            size=(plan.full_size[1], plan.full_size[0]),
            mpp=self.slide.mpp,
            level=plan.level,
            scale=plan.scale,
            assumed_scale=self.note,
            tile_size=plan.tile,
            windows=plan.windows,
            predicted=record.predicted,
            skipped=record.skipped,
            resumed_from_band=self.first_band,
            bands=len(plan.rows),
            band_bytes=record.band_bytes,
            seconds=time.monotonic() - self.started,
        )


def _weights(tile: tuple[int, int]) -> np.ndarray:
    from segkit.inference.tiling import gaussian_importance

    return gaussian_importance(tile)


def _band_spans(
    band: Band, info: Any, v: np.ndarray, u: np.ndarray, y1: int, same: bool
) -> tuple[int, list[tuple[int, np.ndarray]]]:
    """The band's mask at level 0: its first row and its spans ``(x0, encoded rows)``.

    Only the spans where windows were are decided and brought to level 0 (nearest: rows
    ``v``, columns ``u`` of the model's pixels); the rest of the band is glass (0).
    """
    a = band.top
    y0 = int(np.searchsorted(v, a))
    spans = []
    for s in band.spans:
        mask = _decide(s.proba, s.covered, info)
        if same:
            spans.append((s.col, mask))
            continue
        j0, j1 = np.searchsorted(u, [s.col, s.col + mask.shape[1]])
        if j1 > j0 and y1 > y0:
            spans.append((int(j0), mask[np.ix_(v[y0:y1] - a, u[j0:j1] - s.col)]))
    return y0, spans


def _stream(
    job: SlideMaskStream, blender: BandBlender, writer: PyramidMaskWriter
) -> Iterator[Band]:
    """Predict the bands from ``record.bands_done`` on; store them, keep the record, yield them."""
    from tqdm.auto import tqdm

    plan, record, info = job.plan, job.record, job.info
    rows = plan.rows
    (hm, wm), (h0, w0) = plan.model_size, plan.full_size
    nexts = list(rows[1:]) + [plan.grid_size[0]]
    v, u = nearest_index(h0, hm), nearest_index(w0, wm)
    ends = np.searchsorted(v, np.minimum(nexts, hm))  # level-0 end row of every band
    k = job.first_band
    # the windows of earlier rows that reach into band k are predicted again (not written)
    first = next(j for j in range(k + 1) if rows[j] + plan.tile[0] > rows[k])
    counts: dict[int, tuple[int, int]] = {}
    bar = tqdm(
        total=(len(rows) - first) * len(plan.cols),
        unit="tile",
        desc=job.slide.path.name,
        disable=not job.progress,
        dynamic_ncols=True,
    )
    test = tissue_test(job.tissue, job.slide, plan)
    with bar:
        bands = blend_bands(
            job.model,
            job.slide,
            plan,
            blender,
            test=test,
            color_model=info.color_model,
            batch_size=job.batch_size,
            start=k,
            bar=bar,
            stain=slide_normaliser(job.slide, plan, info, test),
        )
        for band in bands:
            i = band.index
            counts[i] = (band.predicted, band.skipped)
            if band.height:
                y1 = int(ends[i])
                y0, spans = _band_spans(band, info, v, u, y1, (hm, wm) == (h0, w0))
                writer.write_spans(y0, y1 - y0, spans)
            done = min(i + 1, int(np.searchsorted(ends, writer.rows_done, side="right")))
            record.band_bytes = max(record.band_bytes, blender.peak_nbytes)
            if done > record.bands_done:
                for j in range(record.bands_done, done):
                    record.predicted += counts[j][0]
                    record.skipped += counts[j][1]
                record.bands_done, record.rows_done = done, writer.rows_done
                record.save(job.file)
            seen = sum(p + s for p, s in counts.values())
            if seen:
                bar.set_postfix(glass=f"{sum(s for _, s in counts.values()) / seen:.0%}")
            yield band
