"""Pictures of images, masks, predictions, training curves and metric distributions.

Every plotting function returns a :class:`matplotlib.figure.Figure` built without pyplot,
so it works under the ``Agg`` backend (CI, papermill, scripts), displays once in a
notebook, and never leaks figures into pyplot's global state. Save one with
``fig.savefig(path)``.

The array helpers (:func:`colorize_mask`, :func:`blend_overlay`, :func:`mask_boundaries`)
are plain NumPy and return ``uint8`` RGB arrays; the widgets use them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import ndimage

__all__ = [
    "CLASS_COLOURS",
    "as_label_mask",
    "colorize_mask",
    "mask_boundaries",
    "blend_overlay",
    "overlay",
    "prediction_grid",
    "load_history",
    "plot_history",
    "plot_metric_distribution",
]

# Class 0 (background) is transparent; classes 1.. take these colours in turn.
CLASS_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 200, 83),  # green
    (255, 59, 48),  # red
    (0, 122, 255),  # blue
    (255, 204, 0),  # yellow
    (175, 82, 222),  # purple
    (90, 200, 250),  # cyan
    (255, 149, 0),  # orange
)
_MASK_COLOUR = (0, 200, 83)
_PREDICTION_COLOUR = (255, 0, 170)


def as_label_mask(mask: np.ndarray) -> np.ndarray:
    """Turn a mask into class (or instance) indices.

    A mask whose only values are {0, 255} (the on-disk binary encoding) becomes {0, 1};
    boolean masks become {0, 1}; anything else (class indices, instance labels) is kept.

    Parameters
    ----------
    mask : (M, N) ndarray

    Returns
    -------
    labels : (M, N) ndarray of int
    """
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2:
        raise ValueError(f"a mask is a 2-D array (M, N), got shape {m.shape}")
    if m.dtype == bool:
        return m.astype(np.uint8)
    if np.issubdtype(m.dtype, np.floating):
        m = np.rint(m)
    values = np.unique(m)
    if values.size <= 2 and set(values.tolist()) <= {0, 255}:
        return (m > 0).astype(np.uint8)
    return m.astype(np.int64) if m.dtype.kind == "i" else m


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """A (M, N, 3) uint8 view of an image given as (M, N), (M, N, 1), (M, N, 3) or (M, N, 4)."""
    from segkit.imaging import to_uint8

    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        if (
            np.issubdtype(img.dtype, np.floating)
            and img.size
            and 0.0 <= img.min() <= img.max() <= 1.0
        ):
            img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
        else:
            img = to_uint8(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"an image is (M, N) or (M, N, C) with C in 1, 3, 4; got {image.shape}")
    return img


def colorize_mask(mask: np.ndarray, *, colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """Colour a mask: class ``k`` gets ``CLASS_COLOURS[k - 1]`` (or ``colour`` for every class).

    Parameters
    ----------
    mask : (M, N) ndarray
        Class indices, {0, 255} or boolean.
    colour : (r, g, b), optional
        One colour for all foreground classes.

    Returns
    -------
    rgb : (M, N, 3) uint8 ndarray
        Background is black.
    """
    labels = as_label_mask(mask)
    out = np.zeros((*labels.shape, 3), dtype=np.uint8)
    if colour is not None:
        out[labels > 0] = colour
        return out
    table = np.array(CLASS_COLOURS, dtype=np.uint8)
    fg = labels > 0
    out[fg] = table[(labels[fg].astype(np.int64) - 1) % len(table)]
    return out


def mask_boundaries(mask: np.ndarray, *, instances: bool = True) -> np.ndarray:
    """Pixels on the outline of each object.

    Parameters
    ----------
    mask : (M, N) ndarray
        Binary, class-index or instance-label mask.
    instances : bool
        Outline every object separately: a binary mask is first split into connected
        components. Class-index and instance-label masks get a line wherever the label
        changes (so touching instances with different ids stay apart).

    Returns
    -------
    edges : (M, N) bool ndarray
    """
    labels = as_label_mask(mask)
    if instances and labels.max(initial=0) <= 1:
        labels, _ = ndimage.label(labels > 0)
    labels = np.asarray(labels)
    fg = labels > 0
    edges = np.zeros(labels.shape, dtype=bool)
    padded = np.pad(labels, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
        edges |= neighbour != centre
    # Image borders count as edges of objects that touch them.
    edges[0, :] = True
    edges[-1, :] = True
    edges[:, 0] = True
    edges[:, -1] = True
    return edges & fg


def blend_overlay(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    prediction: np.ndarray | None = None,
    *,
    alpha: float = 0.4,
    contours: bool = False,
) -> np.ndarray:
    """Blend a mask and/or a prediction over an image.

    The mask is drawn in green (or per-class colours for multi-class masks), the prediction
    in magenta. With ``contours`` only the outline of every object is drawn, opaque, so the
    tissue underneath stays visible; otherwise the regions are filled with opacity ``alpha``.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
    mask, prediction : (M, N) ndarray, optional
    alpha : float
        Opacity of filled regions, 0 (invisible) to 1 (opaque).
    contours : bool

    Returns
    -------
    rgb : (M, N, 3) uint8 ndarray
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha: expected a value between 0 and 1, got {alpha!r}")
    rgb = _as_rgb(image).astype(np.float32)
    layers = []
    if mask is not None:
        labels = as_label_mask(mask)
        colour = _MASK_COLOUR if labels.max(initial=0) <= 1 or contours else None
        layers.append((labels, colour))
    if prediction is not None:
        layers.append((as_label_mask(prediction), _PREDICTION_COLOUR))
    for labels, colour in layers:
        if labels.shape != rgb.shape[:2]:
            raise ValueError(
                f"mask of shape {labels.shape} does not match image of shape {rgb.shape[:2]}"
            )
        colours = colorize_mask(labels, colour=colour).astype(np.float32)
        if contours:
            sel = mask_boundaries(labels)
            rgb[sel] = colours[sel]
        else:
            sel = labels > 0
            rgb[sel] = (1.0 - alpha) * rgb[sel] + alpha * colours[sel]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


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
        _show(axes[i, 0], _as_rgb(images[i]), f"original: {name}" if name else "original")
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
    return _as_rgb(entry)


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
