"""The backend-neutral input pipeline: a ``keras.utils.PyDataset`` of ``(image, mask)`` batches.

Used by :func:`segkit.train` when Keras's backend is not TensorFlow (JAX, PyTorch); under
TensorFlow the ``tf.data`` pipeline (:mod:`segkit.training.pipeline`) is used. It does what that
pipeline does: decode (:func:`segkit.training.loading.load_target`, with the run's stain
normalisation, :func:`segkit.training.loading.training_stain`), cache decoded pairs in memory
(``config.cache``), ``patches_per_image`` random patches per image, a new shuffle every epoch,
paired augmentation (:mod:`segkit.training.augment_numpy`) and batching; evaluation batches are
whole images centre-cropped to a size the U-Net accepts, in a fixed order. Images are float32
``(B, H, W, C)`` raw 0..255, masks uint8 ``(B, H, W, 1)``.

Every random choice depends only on ``config.seed``, the pass over the data and the sample, so a
run is reproducible and a resumed run draws what an uninterrupted one would have drawn. The
random streams are NumPy's, not TensorFlow's: the same seed gives other patches and flips than
``tf.data`` (from the same distributions). Batches are read by worker threads (``workers``).
"""

from __future__ import annotations

import os
import threading

import keras
import numpy as np

from segkit.dataset.manifest import Manifest
from segkit.training import augment_numpy as aug
from segkit.training.config import TrainConfig
from segkit.training.loading import load_target, training_stain

__all__ = ["PairDataset", "FollowEpochs", "make_pydataset"]

# Keys that keep the shuffles and the augmentation streams apart.
_SHUFFLE, _AUGMENT = 1, 2


class PairDataset(keras.utils.PyDataset):
    """Batches of ``(image, mask)`` from split part ``part`` of a prepared data set.

    Parameters
    ----------
    manifest : Manifest
    part : {'train', 'val', 'test'}
    config : TrainConfig
        Patch size, patches per image, augmentation, seed, cache, batch size and
        ``steps_per_epoch`` (training batches per epoch; ``None``: one pass over the data).
    training : bool
        Shuffle, cut random patches and augment (else: whole images, fixed order).
    batch_size : int, optional
        Overrides ``config.batch_size`` (a multiple of the devices under data parallelism).
    epoch : int
        The epoch (0-based) whose batches are drawn, until :meth:`set_epoch` changes it;
        under ``model.fit`` pass :class:`FollowEpochs` as a callback to keep it in step.
    drop_remainder : bool
        Leave out the last incomplete batch of a pass (a batch that divides over devices).
    workers : int, optional
        Threads computing batches (default: the CPU count, at most 8). NumPy releases the GIL
        in the augmentation's array operations, so threads scale: 2 threads gave 1.85x the
        patches/s of one on 2 cores (``benchmarks/bench_input.py``).
    """

    def __init__(
        self,
        manifest: Manifest,
        part: str,
        config: TrainConfig,
        *,
        training: bool,
        batch_size: int | None = None,
        epoch: int = 0,
        drop_remainder: bool = False,
        workers: int | None = None,
    ) -> None:
        workers = workers or max(1, min(8, os.cpu_count() or 1))
        super().__init__(workers=workers, use_multiprocessing=False)
        pairs = manifest.split(part)
        if not pairs:
            raise ValueError(f"{manifest.root}: split part '{part}' has no pairs")
        self.manifest, self.config, self.training = manifest, config, training
        self.pairs = tuple(pairs)
        self.batch_size = int(batch_size or config.batch_size)
        self.epoch = int(epoch)
        self.drop_remainder = drop_remainder
        size = manifest.template.size
        if training:
            config.check_patch_fits(size)
        self._per_image = config.patches_per_image if training else 1
        self.samples = len(self.pairs) * self._per_image
        patch = config.patch_size
        self._patch = patch if training and patch is not None and (patch, patch) != size else None
        self._crop = 2**config.depth if (patch is None or not training) else None
        self._stain = training_stain(manifest, config)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()
        if self.num_batches == 0:  # Keras would wait for a first batch forever
            raise ValueError(
                f"{manifest.root}: split part '{part}' has {self.samples} samples, fewer than "
                f"one complete batch of {self.batch_size}; use a smaller batch_size"
            )

    @property
    def num_batches(self) -> int:
        if self.training and self.config.steps_per_epoch:
            return int(self.config.steps_per_epoch)
        if self.drop_remainder:
            return self.samples // self.batch_size
        return -(-self.samples // self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        """Make the next batches those of ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def order(self, step: int) -> np.ndarray:
        """The samples of pass ``step`` over the data, in the order they are drawn."""
        if not self.training:
            return np.arange(self.samples)
        return aug.sample_rng(self.config.seed, _SHUFFLE, step).permutation(self.samples)

    def _positions(self, index: int) -> list[tuple[int, int]]:
        """``(pass, sample)`` of each item of batch ``index`` of the current epoch."""
        if not 0 <= index < self.num_batches:
            raise IndexError(f"batch {index} of a dataset of {self.num_batches} batches")
        b = self.batch_size
        if self.training and self.config.steps_per_epoch:
            # a stream of passes, as tf.data's repeat(): batches may span two passes
            first = (self.epoch * self.num_batches + index) * b
            flat = [divmod(g, self.samples) for g in range(first, first + b)]
            orders = {p: self.order(p) for p in {p for p, _ in flat}}
            return [(p, int(orders[p][k])) for p, k in flat]
        step = self.epoch if self.training else 0
        chosen = self.order(step)[index * b : (index + 1) * b]
        return [(step, int(s)) for s in chosen]

    def _pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        image, mask = load_target(self.manifest, self.pairs[index], stain=self._stain)
        pair = (np.asarray(image), np.asarray(mask)[..., None])
        if self.config.cache:
            with self._lock:
                self._cache.setdefault(index, pair)
        return pair

    def _sample(self, step: int, sample: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self._pair(sample // self._per_image)
        if not self.training:
            assert self._crop is not None
            image, mask = aug.center_crop(image, mask, self._crop)
            return image.astype(np.float32), mask
        c = self.config
        rng = aug.sample_rng(c.seed, _AUGMENT, step, sample)
        if self._patch is not None:  # cut first: only the patch's pixels become float32
            image, mask = aug.random_patch(image, mask, self._patch, rng, self.config.zoom)
        elif self._crop is not None:
            image, mask = aug.center_crop(image, mask, self._crop)
        image = image.astype(np.float32)
        if c.augment:
            image, mask = aug.augment_pair(
                image, mask, rng, flip=c.flip, rotate90=c.rotate90, brightness=c.brightness,
                contrast=c.contrast, stain_jitter=c.stain_jitter,
                hematoxylin_fade=c.hematoxylin_fade, hue=c.hue,
                saturation=c.saturation, blur=c.blur, noise=c.noise,
            )  # fmt: skip
        return image, mask

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        items = [self._sample(step, sample) for step, sample in self._positions(int(index))]
        images = np.stack([i for i, _ in items]).astype(np.float32, copy=False)
        masks = np.stack([m for _, m in items]).astype(np.uint8, copy=False)
        return images, masks


class FollowEpochs(keras.callbacks.Callback):
    """Tell a :class:`PairDataset` which epoch ``model.fit`` begins (resumed runs included).

    Keras calls a dataset's own ``on_epoch_end`` also after peeking at a first batch, so a
    dataset cannot count epochs itself; this callback sets the epoch before its first batch.
    """

    def __init__(self, dataset: PairDataset) -> None:
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.dataset.set_epoch(epoch)


def make_pydataset(
    manifest: Manifest,
    part: str,
    config: TrainConfig,
    *,
    training: bool,
    batch_size: int | None = None,
    epoch: int = 0,
    drop_remainder: bool = False,
) -> PairDataset:
    """A :class:`PairDataset`: the backend-neutral twin of
    :func:`segkit.training.pipeline.make_dataset`."""
    return PairDataset(
        manifest, part, config, training=training, batch_size=batch_size, epoch=epoch,
        drop_remainder=drop_remainder,
    )  # fmt: skip
