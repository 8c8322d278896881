"""Pairs as training reads them, without TensorFlow: the image and its target class indices.

Both input pipelines (``tf.data`` in :mod:`segkit.training.pipeline`, ``keras.utils.PyDataset``
in :mod:`segkit.training.pydataset`) and the run's figures read pairs through these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segkit.dataset.manifest import Manifest, ManifestError, PairRecord
from segkit.dataset.pairs import load_instances, load_pair
from segkit.instances.targets import make_instance_target

__all__ = ["load_target", "load_arrays"]


def load_target(manifest: Manifest, pair: PairRecord) -> tuple[np.ndarray, np.ndarray]:
    """One pair as training reads it: the image and the target class indices ``(H, W)``.

    For a semantic data set the target is the mask. For ``template.target == "instances"``
    it is derived from the pair's instance labels and mask
    (:func:`segkit.instances.targets.make_instance_target`): interiors keep the mask's class
    and the boundary between touching objects is one more class.
    """
    image, mask = load_pair(manifest, pair)
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


def load_arrays(manifest: Manifest, pairs: Sequence[PairRecord]) -> tuple[np.ndarray, np.ndarray]:
    """All ``pairs`` in memory: images ``(N, H, W, C)`` uint8 and targets ``(N, H, W)`` uint8
    (see :func:`load_target`)."""
    loaded = [load_target(manifest, p) for p in pairs]
    return np.stack([i for i, _ in loaded]), np.stack([m for _, m in loaded])
