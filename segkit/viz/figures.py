"""Figures of images, masks, predictions, training curves and metric distributions.

Every plotting function returns a :class:`matplotlib.figure.Figure` built without pyplot,
so it works under the ``Agg`` backend (CI, papermill, scripts), displays once in a
notebook, and never leaks figures into pyplot's global state. Save one with
``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from segkit.imaging import to_rgb
from segkit.viz.overlays import blend_overlay, colorize_mask

__all__ = [
    "overlay",
    "prediction_grid",
    "load_history",
    "plot_history",
    "plot_metric_distribution",
]


class _Figure(Figure):
    """A Figure that shows itself as a PNG in Jupyter, whatever the matplotlib backend."""

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=90)
        return buf.getvalue()


def _new_axes(nrows: int, ncols: int, *, cell: float = 2.6) -> tuple[Figure, np.ndarray]:
    fig = _Figure(figsize=(cell * ncols, cell * nrows), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False))
    return fig, axes


def _show(ax: Any, image: np.ndarray, title: str | None = None) -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def overlay(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    prediction: np.ndarray | None = None,
    *,
    alpha: float = 0.4,
    contours: bool = False,
    ax: Any = None,
) -> Figure:
    """Show an image with its mask (green) and/or prediction (magenta) overlaid.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
    mask, prediction : (M, N) ndarray, optional
        Class indices, {0, 255}, boolean or instance labels.
    alpha : float
        Opacity of the filled regions.
    contours : bool
        Draw the outline of every object (instance) instead of filling.
    ax : matplotlib Axes, optional
        Draw into this axes; a new figure is made otherwise.

    Returns
    -------
    Figure
    """
    rgb = blend_overlay(image, mask, prediction, alpha=alpha, contours=contours)
    if ax is None:
        h, w = rgb.shape[:2]
        scale = 5.0 / max(h, w)
        fig = _Figure(figsize=(max(w * scale, 2.0), max(h * scale, 2.0)), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    parts = ["image"] + (["mask"] if mask is not None else [])
    parts += ["prediction"] if prediction is not None else []
    _show(ax, rgb, " + ".join(parts))
    return fig


def prediction_grid(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray] | None = None,
    *,
    titles: Sequence[str] | None = None,
    max_samples: int = 6,
) -> Figure:
    """One row per sample: original | mask | prediction (the paper's result figure).

    Parameters
    ----------
    images : sequence of (M, N[, C]) ndarray
    masks : sequence of (M, N) ndarray
    predictions : sequence of (M, N) ndarray, optional
        Without predictions the grid has two columns.
    titles : sequence of str, optional
        One per sample, shown on the original.
    max_samples : int
        Show at most this many rows.

    Returns
    -------
    Figure
    """
    n = min(len(images), len(masks), max_samples)
    if predictions is not None:
        n = min(n, len(predictions))
    if n == 0:
        raise ValueError("prediction_grid: no samples to show")
    ncols = 2 if predictions is None else 3
    fig, axes = _new_axes(n, ncols)
    for i in range(n):
        name = titles[i] if titles is not None and i < len(titles) else None
        _show(axes[i, 0], to_rgb(images[i]), f"original: {name}" if name else "original")
        _show(axes[i, 1], colorize_mask(masks[i]), "mask")
        if predictions is not None:
            _show(axes[i, 2], colorize_mask(predictions[i]), "prediction")
    return fig


def load_history(
    history: Mapping[str, Sequence[float]] | str | Path | Any,
) -> dict[str, list[float]]:
    """Read a training history into ``{name: [value per epoch]}``.

    Parameters
    ----------
    history : mapping, path or object
        A dict of lists (``keras.callbacks.History.history``), a ``history.csv`` path (a run
        folder works too; read by :func:`segkit.runs.read_history`, so a cell without a value
        is NaN), a ``keras.callbacks.History`` or any object with a ``history`` attribute
        (such as a run).
    """
    if isinstance(history, str | Path):
        from segkit.runs.history import read_history

        return read_history(history)
    if not isinstance(history, Mapping) and hasattr(history, "history"):
        return load_history(history.history)
    if isinstance(history, Mapping):
        return {str(k): [float(v) for v in vals] for k, vals in history.items()}
    raise TypeError(
        "history: expected a dict of lists, a history.csv path or a run, "
        f"got {type(history).__name__}"
    )


def plot_history(history: Mapping[str, Sequence[float]] | str | Path | Any) -> Figure:
    """Training curves: losses on the left, every other metric on the right.

    Training and validation (``val_`` prefix) curves of the same quantity share a colour,
    validation dashed.

    Parameters
    ----------
    history : mapping, path or object
        See :func:`load_history`.

    Returns
    -------
    Figure
    """
    data = load_history(history)
    data.pop("epoch", None)
    if not data:
        raise ValueError("plot_history: the history holds no metrics")
    bases = []
    for key in data:
        base = key[4:] if key.startswith("val_") else key
        if base not in bases and base not in ("lr", "learning_rate"):
            bases.append(base)
    losses = [b for b in bases if "loss" in b]
    metrics = [b for b in bases if "loss" not in b]
    ncols = 2 if losses and metrics else 1
    fig, axes = _new_axes(1, ncols, cell=3.6)
    panels = [(axes[0, 0], losses or metrics, "loss" if losses else "metric")]
    if ncols == 2:
        panels.append((axes[0, 1], metrics, "metric"))
    for ax, names, ylabel in panels:
        for i, base in enumerate(names):
            colour = f"C{i}"
            for key, style, label in ((base, "-", base), (f"val_{base}", "--", f"val {base}")):
                if key in data and data[key]:
                    epochs = np.arange(1, len(data[key]) + 1)
                    ax.plot(epochs, data[key], style, color=colour, marker=".", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _entry_image(entry: Any) -> np.ndarray:
    if isinstance(entry, tuple | list) and len(entry) in (2, 3):
        return blend_overlay(*entry, contours=True)
    return to_rgb(entry)


def plot_metric_distribution(
    per_image: Sequence[Mapping[str, Any]],
    metric: str = "dice",
    *,
    images: Mapping[str, Any] | Sequence[Any] | None = None,
    worst: int = 3,
) -> Figure:
    """Histogram of a per-image metric, with the worst cases named and, optionally, shown.

    Parameters
    ----------
    per_image : sequence of dict
        One dict per image with ``name`` and the metric (``EvaluationResult.per_image``).
    metric : str
        Key of the metric, e.g. ``"dice"`` or ``"iou"``.
    images : mapping or sequence, optional
        Name -> entry (or entries aligned with ``per_image``); an entry is an image, or a
        tuple ``(image, mask[, prediction])`` drawn as outlines. The worst cases are shown.
    worst : int
        How many of the lowest-scoring images to name (and show).

    Returns
    -------
    Figure
    """
    if not per_image:
        raise ValueError("plot_metric_distribution: per_image is empty")
    missing = [i for i, row in enumerate(per_image) if metric not in row]
    if missing:
        raise KeyError(f"metric {metric!r} is missing for image #{missing[0]}")
    values = np.array([float(row[metric]) for row in per_image])
    names = [str(row.get("name", i)) for i, row in enumerate(per_image)]
    order = np.argsort(values, kind="stable")[: max(0, worst)]
    show = images is not None and len(order) > 0
    nrows = 2 if show else 1
    ncols = max(2, len(order)) if show else 1
    fig = _Figure(figsize=(3.0 * ncols if show else 5.5, 3.2 * nrows), layout="constrained")
    grid = fig.add_gridspec(nrows, ncols)
    ax = fig.add_subplot(grid[0, :])
    finite = values[np.isfinite(values)]
    ax.hist(finite, bins=min(20, max(5, finite.size)), range=(0.0, 1.0), color="C0", alpha=0.8)
    mean = float(finite.mean()) if finite.size else float("nan")
    ax.axvline(mean, color="k", linestyle="--", label=f"mean {mean:.3f}")
    for rank, idx in enumerate(order):
        ax.axvline(
            values[idx], color="C3", alpha=0.6, linestyle=":", label="worst" if rank == 0 else None
        )
    worst_text = ", ".join(f"{names[i]} ({values[i]:.3f})" for i in order)
    ax.set_title(f"{metric} over {values.size} images; worst: {worst_text}", fontsize=9)
    ax.set_xlabel(metric)
    ax.set_ylabel("images")
    ax.legend(fontsize=8)
    if show:
        assert images is not None
        for col, idx in enumerate(order):
            entry = images[names[idx]] if isinstance(images, Mapping) else images[idx]
            sub = fig.add_subplot(grid[1, col])
            _show(sub, _entry_image(entry), f"{names[idx]}: {metric} {values[idx]:.3f}")
    return fig
