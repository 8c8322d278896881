"""Per-image Ki-67 figures: counts, labelling index, its confidence interval, H-score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from segkit.ki67.classify import POSITIVE, Classification

__all__ = ["MIN_CELLS", "Ki67Summary", "summarize_counts", "summarize_ki67", "wilson_interval"]

#: Guidelines ask for at least this many counted tumour cells for a reliable index.
MIN_CELLS = 500
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Ki67Summary:
    """The Ki-67 figures of one image.

    ``ki67_index`` is ``100 * positive / (positive + negative)`` in percent (0-100);
    ``ki67_ci_low`` / ``ki67_ci_high`` its 95 % Wilson interval in percent; ``h_score`` is
    ``1 * %1+ + 2 * %2+ + 3 * %3+`` (0-300, percentages of all counted cells); ``bin_*`` are
    cell counts. With no cell counted the index is 0.0, the interval [0, 100] and ``warning``
    says so; ``warning`` is empty when nothing needs saying.
    """

    positive: int
    negative: int
    total: int
    ki67_index: float
    ki67_ci_low: float
    ki67_ci_high: float
    h_score: float
    bin_1plus: int
    bin_2plus: int
    bin_3plus: int
    warning: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(successes: int, n: int, *, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion, as fractions (0-1).

    ``(0.0, 1.0)`` when ``n`` is 0 (nothing is known). For 15 of 100:
    ``(0.0931, 0.2328)``.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"expected 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def summarize_ki67(classification: Classification, *, min_cells: int = MIN_CELLS) -> Ki67Summary:
    """Count and summarise the classified tumour nuclei of one image.

    Every nucleus in ``classification`` counts as a tumour cell (exclude lymphocytes and
    stroma before). ``min_cells``: below it ``warning`` says the index is not reliable.
    """
    classes = np.asarray(classification.classes)
    bins = np.asarray(classification.bins)
    positive = int(np.count_nonzero(classes == POSITIVE))
    counts = tuple(int(np.count_nonzero(bins == b)) for b in (1, 2, 3))
    return summarize_counts(positive, int(len(classes)), counts, min_cells=min_cells)


def summarize_counts(
    positive: int,
    total: int,
    bin_counts: Sequence[int] = (0, 0, 0),
    *,
    min_cells: int = MIN_CELLS,
) -> Ki67Summary:
    """The summary from counts alone (a slide's cells, counted as they stream past).

    ``bin_counts`` are the cells in the 1+, 2+ and 3+ intensity bins.
    """
    negative = total - positive
    counts = [int(c) for c in bin_counts]
    warnings = []
    if total == 0:
        warnings.append("no tumour cells counted; the Ki-67 index 0.0 means nothing")
        index, h_score = 0.0, 0.0
    else:
        index = 100.0 * positive / total
        h_score = sum(100.0 * (b + 1) * c / total for b, c in enumerate(counts))
        if total < min_cells:
            warnings.append(
                f"only {total} tumour cells counted (fewer than {min_cells}); "
                "the Ki-67 index is not reliable"
            )
    low, high = wilson_interval(positive, total)
    return Ki67Summary(
        positive,
        negative,
        total,
        index,
        100.0 * low,
        100.0 * high,
        h_score,
        counts[0],
        counts[1],
        counts[2],
        "; ".join(warnings),
    )
