"""Sliding-window inference with Gaussian-weighted blending of overlapping tiles.

As in nnU-Net: tiles overlap, each tile's prediction is weighted by a Gaussian centred on
the tile (the centre of a tile sees the most context, its border the least), and the blended
map is ``sum(weight * prediction) / sum(weight)``. Tiles are cut, predicted and added to the
running sums a batch at a time, so memory holds the image, two output-sized float32 maps and
two batches of tiles, never the predictions of every tile.

The host's share is kept small, since on an accelerator it is what the device waits on: tiles
are cut in the image's own dtype (a uint8 image gives uint8 tiles, a quarter of the bytes of
float32 to copy and to send to the device; a segkit model casts its input itself), a batch's
predictions are weighted in one array operation, and only the additions into the running sums
go tile by tile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

__all__ = ["gaussian_importance", "tile_starts", "tile_grid", "sliding_window"]

PredictBatch = Callable[[np.ndarray], np.ndarray]


def gaussian_importance(
    tile_size: tuple[int, int], *, sigma_scale: float = 0.125, floor: float = 1e-4
) -> np.ndarray:
    """A 2-D Gaussian weight map, 1 at the tile centre.

    Parameters
    ----------
    tile_size : (rows, cols)
    sigma_scale : float
        Standard deviation as a fraction of the tile size (nnU-Net uses 1/8).
    floor : float
        Smallest weight, so that border pixels still count where only one tile covers them.

    Returns
    -------
    (rows, cols) float32 ndarray
    """
    axes = []
    for n in tile_size:
        x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
        sigma = max(n * sigma_scale, 1e-6)
        axes.append(np.exp(-0.5 * (x / sigma) ** 2))
    w = np.outer(axes[0], axes[1])
    w /= w.max()
    return np.maximum(w, floor).astype(np.float32)


def tile_starts(size: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``0..size`` with ``overlap``.

    The step is ``tile * (1 - overlap)`` (at least 1); the last tile ends exactly at ``size``.
    ``size`` must be at least ``tile``.
    """
    if size < tile:
        raise ValueError(f"tile_starts: size {size} is smaller than the tile {tile}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap!r}")
    step = max(1, int(round(tile * (1.0 - overlap))))
    last = size - tile
    count = -(-last // step) + 1  # ceil(last / step) + 1
    if count == 1:
        return [0]
    # spread the tiles evenly between 0 and last
    return [int(round(i * last / (count - 1))) for i in range(count)]


def tile_grid(
    shape: tuple[int, int], tile_size: tuple[int, int], overlap: float
) -> list[tuple[int, int]]:
    """``(row, col)`` starts of every tile covering an image of ``shape`` (row-major order)."""
    rows = tile_starts(shape[0], tile_size[0], overlap)
    cols = tile_starts(shape[1], tile_size[1], overlap)
    return [(r, c) for r in rows for c in cols]


def _batches(grid: list[tuple[int, int]], batch_size: int) -> Iterator[list[tuple[int, int]]]:
    for i in range(0, len(grid), batch_size):
        yield grid[i : i + batch_size]


def sliding_window(
    predict_batch: PredictBatch,
    image: np.ndarray,
    tile_size: tuple[int, int],
    *,
    overlap: float = 0.25,
    batch_size: int = 4,
    sigma_scale: float = 0.125,
    pad_batches: bool = True,
) -> np.ndarray:
    """Predict a whole image tile by tile and blend the tiles.

    Parameters
    ----------
    predict_batch : callable
        ``(B, th, tw, C) -> (B, th, tw, K)`` probabilities; the tiles have the image's dtype.
    image : (M, N, C) ndarray
        At least ``tile_size`` in both directions (pad smaller images first). Any dtype: the
        tiles handed to ``predict_batch`` have the image's dtype.
    tile_size : (th, tw)
    overlap : float
        Fraction of a tile shared with its neighbour, in [0, 1).
    batch_size : int
        Tiles per call of ``predict_batch``.
    sigma_scale : float
        Gaussian standard deviation as a fraction of the tile size.
    pad_batches : bool
        Fill the last batch up to ``batch_size`` with zero tiles, so that ``predict_batch``
        always sees one shape (a compiled model is traced once).

    Returns
    -------
    (M, N, K) float32 ndarray
        The blended predictions.
    """
    if image.ndim != 3:
        raise ValueError(f"sliding_window: expected an (M, N, C) image, got shape {image.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    th, tw = tile_size
    rows, cols = image.shape[:2]
    grid = tile_grid((rows, cols), (th, tw), overlap)
    weight = gaussian_importance((th, tw), sigma_scale=sigma_scale)
    total: np.ndarray | None = None
    norm = np.zeros((rows, cols), dtype=np.float32)
    # Two tile buffers: while the model predicts one batch (in a worker thread, so a GPU stays
    # busy), the main thread blends the previous batch's predictions and cuts the next tiles.
    buffers = [np.zeros((batch_size, th, tw, image.shape[2]), dtype=image.dtype) for _ in "ab"]

    def submit(pool: ThreadPoolExecutor, k: int) -> Future[np.ndarray]:
        starts, buf = batches[k], buffers[k % 2]
        n = len(starts)
        for i, (r, c) in enumerate(starts):
            buf[i] = image[r : r + th, c : c + tw]
        if n < batch_size:
            buf[n:] = 0
        return pool.submit(predict_batch, buf if pad_batches or n == batch_size else buf[:n])

    batches = list(_batches(grid, batch_size))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segkit-tiles") as pool:
        pending = submit(pool, 0)
        for k, starts in enumerate(batches):
            pred = np.asarray(pending.result())
            if k + 1 < len(batches):
                pending = submit(pool, k + 1)
            if total is None:
                total = np.zeros((rows, cols, pred.shape[-1]), dtype=np.float32)
            weighted = pred[: len(starts)] * weight[None, ..., None]
            for i, (r, c) in enumerate(starts):
                total[r : r + th, c : c + tw] += weighted[i]
                norm[r : r + th, c : c + tw] += weight
    assert total is not None
    total /= norm[..., None]
    return total
