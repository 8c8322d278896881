"""What the dataset browser does, as plain functions (no ipywidgets here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BrowseItem", "DatasetView", "open_dataset", "load_item", "render_overlay"]


@dataclass(frozen=True)
class BrowseItem:
    """One image/mask pair of a data set being browsed (absolute paths)."""

    name: str
    image: Path
    masks: tuple[Path, ...]
    split: str = ""


@dataclass(frozen=True)
class DatasetView:
    """A data set opened for browsing.

    Attributes
    ----------
    kind : {'prepared', 'source'}
    report : str
        The inspect report (source) or a summary of the manifest (prepared).
    items : tuple of BrowseItem
    manifest : Manifest or None
        For a prepared data set.
    """

    path: Path
    kind: str
    report: str
    items: tuple[BrowseItem, ...]
    manifest: Any = None


def _manifest_summary(manifest: Any) -> str:
    t = manifest.template
    counts = {part: len(manifest.split(part)) for part in ("train", "val", "test")}
    lines = [
        f"prepared data set: {manifest.root}",
        f"  pairs: {len(manifest.pairs)} (train {counts['train']}, val {counts['val']}, "
        f"test {counts['test']})",
        f"  template: {t.height}x{t.width} {t.image_type} {t.color_model}, layout {t.layout}, "
        f"fit {t.fit}, classes {', '.join(t.classes.names)}",
        f"  source: {manifest.source}",
        f"  fingerprint: {manifest.fingerprint}",
    ]
    if manifest.skipped:
        lines.append(f"  skipped: {len(manifest.skipped)} file(s)")
    return "\n".join(lines)


def open_dataset(path: str | Path, *, split: str | None = None) -> DatasetView:
    """Open a prepared data set (it has ``manifest.json``) or inspect a source data set.

    Parameters
    ----------
    path : path
    split : {'train', 'val', 'test'}, optional
        Only this part of a prepared data set.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if (root / "manifest.json").is_file():
        from segkit.dataset import load_manifest

        manifest = load_manifest(root)
        pairs = manifest.split(split) if split else manifest.pairs
        prepared = tuple(
            BrowseItem(p.name, manifest.path(p.image), (manifest.path(p.mask),), p.split)
            for p in pairs
        )
        return DatasetView(root, "prepared", _manifest_summary(manifest), prepared, manifest)
    from segkit.dataset import discover_pairs, inspect_dataset

    found = discover_pairs(root)
    report = inspect_dataset(root, discovery=found)
    items = tuple(
        BrowseItem(p.name, found.root / p.image, tuple(found.root / m for m in p.masks))
        for p in found.pairs
    )
    return DatasetView(root, "source", report.format(), items)


def load_item(view: DatasetView, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (uint8) and mask (class or instance labels) of item ``index`` of ``view``."""
    from segkit.imaging import labels_from_colours, merge_masks, read_image, read_mask, to_uint8

    if not 0 <= index < len(view.items):
        raise IndexError(f"pair {index} out of range (the data set has {len(view.items)})")
    item = view.items[index]
    if view.manifest is not None:
        from segkit.dataset import load_pair

        pair = next(p for p in view.manifest.pairs if p.name == item.name)
        image, mask = load_pair(view.manifest, pair)
        return to_uint8(image), mask
    image = to_uint8(read_image(item.image))
    mask = merge_masks([read_mask(m) for m in item.masks])
    if mask.ndim == 3:
        mask = labels_from_colours(mask)
    return image, mask


def render_overlay(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    prediction: np.ndarray | None = None,
    *,
    alpha: float = 0.4,
    contours: bool = False,
    max_side: int = 768,
) -> bytes:
    """PNG bytes of :func:`segkit.viz.blend_overlay`, shrunk so its longer side <= ``max_side``."""
    from segkit.imaging import encode_image
    from segkit.viz.overlays import blend_overlay

    rgb = blend_overlay(image, mask, prediction, alpha=alpha, contours=contours)
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / max_side)))
    return encode_image(np.ascontiguousarray(rgb[::step, ::step]), ".png")
