"""Predict instance labels for a raw image of any size, and write them.

The tiled predictor (:func:`segkit.inference.predict_proba`) blends its sliding windows
into one full-size probability map first; the watershed then runs once on that map, so a
nucleus on a tile seam is neither cut in two nor counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segkit.instances.postprocess import DEFAULT_H, labels_from_probabilities, min_area_pixels
from segkit.instances.targets import BOUNDARY_CLASS_NAMES

if TYPE_CHECKING:
    from segkit.models.saving import ModelInfo

__all__ = [
    "INSTANCES_SUFFIX",
    "InstancePrediction",
    "instance_probabilities",
    "nucleus_classes",
    "image_pixel_um",
    "predict_instance_map",
    "predict_instances",
    "instances_path",
    "save_instances",
]

#: ``NAME.png`` -> ``NAME_instances.tif``
INSTANCES_SUFFIX = "_instances.tif"


def image_pixel_um(info: ModelInfo) -> tuple[float, float] | None:
    """Microns per pixel of the raw image ``info`` predicts (its ``mpp`` divided by the scale
    that brings the image to it, as :meth:`ModelInfo.at_mpp` sets), or None when unknown."""
    if info.mpp is None:
        return None
    sy, sx = info.scale
    return float(info.mpp) * float(sy), float(info.mpp) * float(sx)


def instance_probabilities(proba: np.ndarray, info: ModelInfo) -> np.ndarray:
    """What :func:`labels_from_probabilities` takes from a model's ``(H, W, C)`` output.

    The three boundary classes as they are; the interior classes of an instance model
    (background, classes..., boundary) summed into one; the foreground probability
    (``1 - background``) of any other model; a ``(H, W)`` map unchanged.
    """
    if proba.ndim == 2:
        return proba
    if tuple(info.class_names) == BOUNDARY_CLASS_NAMES:
        return proba
    if info.target == "instances":  # background, interior classes..., boundary
        interior = proba[..., 1:-1].sum(axis=-1)
        return np.stack([proba[..., 0], interior, proba[..., -1]], axis=-1)
    return 1.0 - proba[..., 0]


@dataclass(frozen=True)
class InstancePrediction:
    """Nuclei found in one raw image, with the probability map they came from.

    Attributes
    ----------
    labels : (M, N) uint16 or uint32 ndarray
        0 background, nuclei 1..N, the raw image's size.
    proba : (M, N, K) float32 ndarray
        The model's blended class probabilities (``K = info.num_classes``).
    info : ModelInfo
    """

    labels: np.ndarray
    proba: np.ndarray
    info: ModelInfo

    @property
    def count(self) -> int:
        """Number of nuclei."""
        return int(len(np.unique(self.labels))) - int((self.labels == 0).any())

    def nucleus_classes(self) -> tuple[np.ndarray, np.ndarray]:
        """Each nucleus's class among the data set's foreground classes.

        Returns
        -------
        ids : (N,) ndarray
            Nucleus ids, ascending.
        classes : (N,) ndarray of int
            Class index (1 .. number of data set classes - 1) with the highest mean
            probability over the nucleus's pixels; 1 for a model with one foreground class.
        """
        return nucleus_classes(self.labels, self.proba, self.info)

    def mask(self) -> np.ndarray:
        """The class-index mask in the data set's classes: each nucleus painted in its class."""
        ids, classes = self.nucleus_classes()
        lut = np.zeros(int(self.labels.max()) + 1 if self.labels.size else 1, dtype=np.uint8)
        lut[ids] = classes
        return lut[self.labels]


def nucleus_classes(
    labels: np.ndarray, proba: np.ndarray, info: ModelInfo
) -> tuple[np.ndarray, np.ndarray]:
    """Per-nucleus class (see :meth:`InstancePrediction.nucleus_classes`)."""
    from scipy import ndimage

    ids = np.unique(labels)
    ids = ids[ids > 0]
    if proba.ndim == 2 or proba.shape[-1] <= 2:
        return ids, np.ones(len(ids), dtype=np.int64)
    last = proba.shape[-1] - 1 if info.target == "instances" else proba.shape[-1]
    if last <= 2:  # one foreground class (and the boundary)
        return ids, np.ones(len(ids), dtype=np.int64)
    means = np.stack(
        [ndimage.mean(proba[..., k], labels=labels, index=ids) for k in range(1, last)], axis=-1
    )
    return ids, (np.argmax(means, axis=-1) + 1).astype(np.int64) if len(ids) else ids


def predict_instance_map(
    model: Any,
    image: np.ndarray,
    *,
    info: ModelInfo | None = None,
    tile_size: int | tuple[int, int] | None = None,
    overlap: float = 0.25,
    tta: bool = False,
    threshold: float | None = None,
    min_area: int | None = None,
    h: float = DEFAULT_H,
) -> InstancePrediction:
    """Nuclei of a raw image and the probability map behind them (see :func:`predict_instances`)."""
    from segkit.inference.predict import predict_proba
    from segkit.models.resolve import resolve_model

    model, info = resolve_model(model if info is None else (model, info))
    proba = predict_proba(model, image, info=info, tile_size=tile_size, overlap=overlap, tta=tta)
    t = info.threshold if threshold is None else float(threshold)
    if min_area is None:
        min_area = min_area_pixels(image_pixel_um(info))
    labels = labels_from_probabilities(
        instance_probabilities(proba, info), threshold=t, min_area=min_area, h=h
    )
    return InstancePrediction(labels=labels, proba=proba, info=info)


def predict_instances(
    model: Any,
    image: np.ndarray,
    *,
    info: ModelInfo | None = None,
    tile_size: int | tuple[int, int] | None = None,
    overlap: float = 0.25,
    tta: bool = False,
    threshold: float | None = None,
    min_area: int | None = None,
    h: float = DEFAULT_H,
) -> np.ndarray:
    """Instance labels (one id per nucleus) for a raw image.

    An instance model (``info.target == "instances"``: background, interior classes,
    boundary) is split along its predicted boundaries; any other model (sigmoid or
    multi-class) by the distance-transform watershed of its foreground ``1 - P(background)``;
    see :func:`segkit.instances.labels_from_probabilities`.

    Parameters
    ----------
    model : keras.Model, path or Run
        Anything :func:`segkit.models.resolve_model` takes.
    image : (M, N[, C]) ndarray
        Any size; see :func:`segkit.inference.predict_proba`.
    info : ModelInfo, optional
        As for :func:`segkit.inference.predict_proba`.
    tile_size, overlap, tta
        Sliding-window options of :func:`segkit.inference.predict_proba`.
    threshold : float, optional
        Foreground probability threshold; default ``info.threshold`` (0.5).
    min_area : int, optional
        Objects with fewer pixels (of the raw image) are removed. Default: 10 µm²
        (:data:`segkit.instances.DEFAULT_MIN_AREA_UM2`, QuPath's) in the image's pixels when
        the model's mpp is known (:func:`image_pixel_um`), else 10 pixels.
    h : float
        Marker depth of the distance-transform watershed (foreground models only).

    Returns
    -------
    (M, N) uint16 or uint32 ndarray
        0 background, nuclei 1..N, the raw image's size.
    """
    return predict_instance_map(
        model, image, info=info, tile_size=tile_size, overlap=overlap, tta=tta,
        threshold=threshold, min_area=min_area, h=h,
    ).labels  # fmt: skip


def instances_path(folder: str | Path, image_name: str | Path) -> Path:
    """``folder / NAME_instances.tif`` for an image file ``NAME.ext``."""
    return Path(folder) / f"{Path(image_name).stem}{INSTANCES_SUFFIX}"


def save_instances(path: str | Path, labels: np.ndarray) -> Path:
    """Write a label image atomically as a zlib-compressed TIFF that tifffile reads back.

    Parameters
    ----------
    path : path
        A ``.tif`` or ``.tiff`` file, by convention ``NAME_instances.tif``
        (:func:`instances_path`).
    labels : (M, N) ndarray of int
        Written as uint16, or uint32 when an id exceeds 65535.

    Returns
    -------
    Path
    """
    import tifffile

    from segkit.files import atomic_path

    p = Path(path)
    if p.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"{p}: instance labels are written as TIFF; use a .tif name")
    arr = np.asarray(labels)
    if arr.ndim != 2 or arr.dtype.kind not in "biu":
        raise ValueError(f"expected an (M, N) integer label image, got {arr.dtype} {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"label ids must be >= 0, found {arr.min()}")
    top = int(arr.max()) if arr.size else 0
    if top > np.iinfo(np.uint32).max:
        raise ValueError(f"label id {top} does not fit in uint32; renumber with relabel()")
    dtype = np.uint16 if top <= np.iinfo(np.uint16).max else np.uint32
    with atomic_path(p) as tmp:
        tifffile.imwrite(tmp, arr.astype(dtype), compression="zlib")
    return p
