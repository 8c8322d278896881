"""What the training monitor does, as plain functions (no ipywidgets here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["update_history", "select_curves", "progress_text", "figure_png"]


def update_history(
    history: dict[str, list[float]], logs: Mapping[str, Any] | None
) -> dict[str, list[float]]:
    """Append one epoch's Keras ``logs`` to ``history`` (in place) and return it.

    Non-numeric entries are ignored; a metric first seen late is padded with NaN so every
    list keeps one value per epoch.
    """
    epochs = max((len(v) for v in history.values()), default=0)
    for key, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        series = history.setdefault(str(key), [float("nan")] * epochs)
        series.append(number)
    for series in history.values():
        while len(series) < epochs + 1:
            series.append(float("nan"))
    return history


def select_curves(
    history: Mapping[str, list[float]], names: tuple[str, ...] = ("loss", "dice")
) -> dict[str, list[float]]:
    """The curves of ``history`` whose name (without ``val_``) is one of ``names``."""
    return {
        k: list(v) for k, v in history.items() if (k[4:] if k.startswith("val_") else k) in names
    }


def progress_text(epoch: int, epochs: int | None, logs: Mapping[str, Any] | None) -> str:
    """``"epoch 3/10 - loss 0.412 - dice 0.731"`` (``epoch`` counts from 1)."""
    head = f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}"
    parts = []
    for key, value in (logs or {}).items():
        try:
            parts.append(f"{key} {float(value):.4g}")
        except (TypeError, ValueError):
            continue
    return " - ".join([head, *parts])


def figure_png(fig: Any, *, dpi: int = 80) -> bytes:
    """PNG bytes of a matplotlib figure (for an ``ipywidgets.Image``)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
