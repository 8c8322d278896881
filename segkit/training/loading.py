"""Pairs as training reads them, without TensorFlow: the image and its target class indices.

Both input pipelines (``tf.data`` in :mod:`segkit.training.pipeline`, ``keras.utils.PyDataset``
in :mod:`segkit.training.pydataset`) and the run's figures read pairs through these functions,
with the stain normalisation of the run (:func:`training_stain`) applied as a pair is decoded:
it is deterministic, so it is done once, before any patch, augmentation or cache.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from segkit.dataset.manifest import Manifest, ManifestError, PairRecord
from segkit.dataset.pairs import load_instances, load_pair
from segkit.instances.targets import make_instance_target
from segkit.stain_normalisation import StainNormalisation, fit_stain_normalisation, normalise

if TYPE_CHECKING:
    from segkit.training.config import TrainConfig

__all__ = ["FIT_IMAGES", "load_target", "load_arrays", "training_stain"]

#: Training images (evenly spaced over the train part) a stain normalisation is fitted on.
FIT_IMAGES = 64
_FITTED: dict[tuple[str, str, str], StainNormalisation] = {}
_FIT_LOCK = threading.Lock()


def training_stain(manifest: Manifest, config: TrainConfig) -> StainNormalisation | None:
    """The stain normalisation ``config`` asks for, fitted on the data set's train part
    (at most :data:`FIT_IMAGES` images, evenly spaced), or None for ``"none"``.

    The same data set and method give the same target (it is computed once per process), so
    every pipeline of a run, a resumed run and the saved ``ModelInfo`` agree.

    Raises
    ------
    ValueError
        When the data set is not RGB, or no training image shows enough stained tissue.
    """
    method = config.stain_normalisation
    if method == "none":
        return None
    template = manifest.template
    if template.color_model != "rgb":
        raise ValueError(
            f"{manifest.root}: stain_normalisation {method!r} needs an RGB data set; its "
            f"template's colour model is {template.color_model!r}"
        )
    key = (str(manifest.root), manifest.fingerprint, method)
    with _FIT_LOCK:
        if key not in _FITTED:
            pairs = manifest.split("train") or manifest.pairs
            picked = np.unique(np.linspace(0, len(pairs) - 1, min(len(pairs), FIT_IMAGES)).round())
            images = (load_pair(manifest, pairs[int(i)])[0] for i in picked)
            try:
                _FITTED[key] = fit_stain_normalisation(images, method)
            except ValueError as exc:
                raise ValueError(f"{manifest.root}: {exc}") from None
        return _FITTED[key]


def load_target(
    manifest: Manifest, pair: PairRecord, *, stain: StainNormalisation | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One pair as training reads it: the image and the target class indices ``(H, W)``.

    For a semantic data set the target is the mask. For ``template.target == "instances"``
    it is derived from the pair's instance labels and mask
    (:func:`segkit.instances.targets.make_instance_target`): interiors keep the mask's class
    and the boundary between touching objects is one more class. ``stain`` (a fitted
    normalisation, :func:`training_stain`) is applied to the image.
    """
    image, mask = load_pair(manifest, pair)
    if stain is not None and not stain.is_none:
        image = normalise(image, stain)
    template = manifest.template
    if template.target != "instances":
        return image, mask
    labels = load_instances(manifest, pair)
    if labels is None:
        raise ManifestError(
            f"{manifest.root}: pair {pair.name!r} has no instance labels, but the template's "
            "target is 'instances'; prepare the data set from a source with separated objects"
        )
    return image, make_instance_target(labels, mask, num_classes=template.num_classes)


def load_arrays(
    manifest: Manifest, pairs: Sequence[PairRecord], *, stain: StainNormalisation | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All ``pairs`` in memory: images ``(N, H, W, C)`` uint8 and targets ``(N, H, W)`` uint8
    (see :func:`load_target`)."""
    loaded = [load_target(manifest, p, stain=stain) for p in pairs]
    return np.stack([i for i, _ in loaded]), np.stack([m for _, m in loaded])
