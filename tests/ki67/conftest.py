"""Synthetic Ki-67 images: discs of known hematoxylin and DAB optical density on white."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from segkit.stain import H_DAB, compose_stains

#: (row, col, radius, hematoxylin OD, DAB OD) of the standard test nuclei.
DISCS = (
    (20, 20, 8, 0.5, 0.05),  # Negative
    (20, 60, 8, 0.3, 0.3),  # 1+
    (60, 20, 8, 0.3, 0.5),  # 2+
    (60, 60, 8, 0.3, 0.7),  # 3+
)


def draw_discs(
    discs: Sequence[tuple[int, int, int, float, float]],
    shape: tuple[int, int] = (80, 80),
    *,
    ids: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 RGB, labels)`` with disc ``k`` labelled ``ids[k]`` (default ``k + 1``)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    conc = np.zeros((*shape, 3))
    labels = np.zeros(shape, dtype=np.int32)
    for k, (r, c, radius, h, d) in enumerate(discs):
        inside = (rows - r) ** 2 + (cols - c) ** 2 <= radius**2
        conc[inside] = (h, d, 0.0)
        labels[inside] = k + 1 if ids is None else ids[k]
    image = np.rint(compose_stains(conc, H_DAB)).astype(np.uint8)
    return image, labels


@pytest.fixture
def discs() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return draw_discs


@pytest.fixture
def four_nuclei() -> tuple[np.ndarray, np.ndarray]:
    """The :data:`DISCS` image: 1 negative, one each of 1+ / 2+ / 3+."""
    return draw_discs(DISCS)
