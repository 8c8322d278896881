"""Predict the mask of a whole slide in bounded memory; write it as a pyramidal OME-TIFF.

:func:`predict_slide` reads the level nearest to the model's microns per pixel, brings it to
the model's scale, and predicts the Gaussian-blended sliding windows of
:mod:`segkit.inference.tiling` (the same grid and weights as :func:`segkit.inference.predict`
of the whole image), skipping windows over glass. The windows are blended one band of rows
at a time (:class:`segkit.slides.bands.BandBlender`); each finished band becomes mask rows
by the one decision rule (:mod:`segkit.decision`), is brought to the slide's full
resolution (nearest) and goes to a :class:`segkit.slides.writer.PyramidMaskWriter`.

Memory, for a slide ``W0`` level-0 pixels wide predicted ``Wm`` model pixels wide with
windows of ``th x tw`` and K output channels::

    band buffer   th x Wm x (K + 1) x 4 bytes    (sums and weights, float32)
    finished band th x Wm x (K + 1) x 4 bytes    (probabilities, at most)
    mask rows     (th x H0 / Hm + 512) x W0 bytes (the band at level 0 + the writer's tile row)
    windows       (batch_size x th x tw x C x 4) x 4 (two batches read ahead, two in use)

nothing of which grows with the slide's height. A slide 100,000 px wide predicted at level 0
with 512-px windows and a binary model holds about 0.4 GB of band buffer.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segkit.slides.bands import BandBlender, blend_bands, nearest_index
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

__all__ = ["SlideResult", "predict_slide", "slide_name"]

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
    from segkit.models.resolve import resolve_model

    started = time.monotonic()
    if not isinstance(slide, Slide):
        raise TypeError(
            f"predict_slide: expected an open Slide, got {type(slide).__name__}; open a file "
            "with segkit.slides first"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    model, info = resolve_model(model if info is None else (model, info))
    plan, note = plan_windows(model, slide, info, tile_size=tile_size, overlap=overlap, level=level)
    if note is not None:
        warnings.warn(note, stacklevel=2)
    tissue = tissue(slide) if callable(tissue) else tissue
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = slide_name(slide.path)
    file = progress_path(out, name)
    path, store = out / f"{name}.ome.tif", out / f".{name}.zarr"
    settings = _settings(slide, model, info, plan, tissue)
    record = _start(SlideProgress.load(file) if resume else None, settings, file, path, store)
    first_band = record.bands_done
    channels = int(model.output_shape[-1])
    if not (record.finished and path.is_file()):
        blender = BandBlender(plan.grid_size[1], _weights(plan.tile), channels, plan.rows[0])
        writer = PyramidMaskWriter(
            path,
            (plan.full_size[1], plan.full_size[0]),
            mpp=slide.mpp,
            tile=MASK_TILE,
            store=store,
            rows_done=record.rows_done,
        )
        _stream(
            model, slide, plan, info, blender, writer, record, file, tissue, batch_size, progress
        )
        writer.finish()
        record.finished = True
        record.save(file)
    else:
        first_band = len(plan.rows)
    return SlideResult(
        path=path,
        size=(plan.full_size[1], plan.full_size[0]),
        mpp=slide.mpp,
        level=plan.level,
        scale=plan.scale,
        assumed_scale=note,
        tile_size=plan.tile,
        windows=plan.windows,
        predicted=record.predicted,
        skipped=record.skipped,
        resumed_from_band=first_band,
        bands=len(plan.rows),
        band_bytes=plan.tile[0] * plan.grid_size[1] * (channels + 1) * 4,  # BandBlender.nbytes
        seconds=time.monotonic() - started,
    )


def _weights(tile: tuple[int, int]) -> np.ndarray:
    from segkit.inference.tiling import gaussian_importance

    return gaussian_importance(tile)


def _stream(
    model: Any,
    slide: Slide,
    plan: WindowPlan,
    info: Any,
    blender: BandBlender,
    writer: PyramidMaskWriter,
    record: SlideProgress,
    file: Path,
    tissue: Any,
    batch_size: int,
    progress: bool,
) -> None:
    """Predict the bands from ``record.bands_done`` on; store them and keep the record."""
    from tqdm.auto import tqdm

    rows = plan.rows
    (hm, wm), (h0, w0) = plan.model_size, plan.full_size
    nexts = list(rows[1:]) + [plan.grid_size[0]]
    v, u = nearest_index(h0, hm), nearest_index(w0, wm)
    ends = np.searchsorted(v, np.minimum(nexts, hm))  # level-0 end row of every band
    k = record.bands_done
    if k >= len(rows):
        return
    # the windows of earlier rows that reach into band k are predicted again (not written)
    first = next(j for j in range(k + 1) if rows[j] + plan.tile[0] > rows[k])
    counts: dict[int, tuple[int, int]] = {}
    bar = tqdm(
        total=(len(rows) - first) * len(plan.cols),
        unit="tile",
        desc=slide.path.name,
        disable=not progress,
        dynamic_ncols=True,
    )
    test = tissue_test(tissue, slide, plan)
    with bar:
        bands = blend_bands(
            model,
            slide,
            plan,
            blender,
            test=test,
            color_model=info.color_model,
            batch_size=batch_size,
            start=k,
            bar=bar,
            stain=slide_normaliser(slide, plan, info, test),
        )
        for band in bands:
            i = band.index
            counts[i] = (band.predicted, band.skipped)
            if len(band.proba):
                a = band.top
                mask = _decide(band.proba, band.covered, info)
                y0 = int(np.searchsorted(v, a))
                band_mask = mask if (hm, wm) == (h0, w0) else mask[np.ix_(v[y0 : ends[i]] - a, u)]
                writer.write_band(y0, band_mask)
            done = min(i + 1, int(np.searchsorted(ends, writer.rows_done, side="right")))
            if done > record.bands_done:
                for j in range(record.bands_done, done):
                    record.predicted += counts[j][0]
                    record.skipped += counts[j][1]
                record.bands_done, record.rows_done = done, writer.rows_done
                record.save(file)
            seen = sum(p + s for p, s in counts.values())
            if seen:
                bar.set_postfix(glass=f"{sum(s for _, s in counts.values()) / seen:.0%}")
