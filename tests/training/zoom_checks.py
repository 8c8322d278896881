"""Checks shared by the zoom tests of both augmentation pipelines."""

from __future__ import annotations

import numpy as np


def ramp_and_blocks(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Channel 0: blocks of 8 px of class 0/1 times 50 (the mask); channel 1: the column."""
    yy, xx = np.mgrid[:side, :side]
    mask = (((yy // 8) + (xx // 8)) % 2).astype(np.uint8)[..., None]
    image = np.stack([mask[..., 0] * 50.0, xx.astype(np.float64)], axis=-1).astype(np.float32)
    return image, mask


def check_zoomed_patch(image, mask, out_image, out_mask, size, zoom):
    """Shape, classes, pairing and magnification of one zoomed patch; its column step."""
    assert out_image.shape == (size, size, 2) and out_mask.shape == (size, size, 1)
    assert out_mask.dtype == mask.dtype and set(np.unique(out_mask)) <= {0, 1}
    # where the bilinear image is a pure class, the nearest-neighbour mask agrees
    value = out_image[..., 0]
    pure = np.isclose(value, 0.0, atol=1e-3) | np.isclose(value, 50.0, atol=1e-3)
    assert pure.mean() > 0.5
    np.testing.assert_array_equal(out_mask[..., 0][pure] * 50.0, np.round(value[pure]))
    # the column ramp's step per output pixel is 1 / magnification
    step = np.diff(out_image[size // 4 : -size // 4, size // 4 : -size // 4, 1], axis=1)
    assert np.ptp(step) < 1e-3
    assert 1 / (1 + zoom) - 0.05 <= step.mean() <= (1 + zoom) + 0.05
    return float(step.mean())
