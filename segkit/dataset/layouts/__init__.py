"""The source layouts discovery knows, one unit each, registered here.

Each unit is a module with a :class:`Layout` named ``LAYOUT``: its name, a summary, its
``find(files, request)`` function and the :class:`~segkit.dataset.SourceLayout` options it
owns. To add a layout, write the module (and its tests) and list its ``LAYOUT`` in
:data:`LAYOUTS` below: discovery, ``SourceLayout`` validation and ``--source-layout`` read
the registry. Layouts with ``detect`` are tried by ``auto`` in this order; the one that pairs
the most images wins, the first on a tie.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from segkit.dataset.layouts import (
    kaggle,
    labelbox,
    nnunet,
    pattern,
    points,
    polygons,
    separate,
    slides,
    suffix,
)
from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile

__all__ = [
    "AUTO",
    "NO_LAYOUT",
    "LAYOUTS",
    "Found",
    "Layout",
    "Request",
    "UnmatchedFile",
    "get_layout",
    "layout_names",
]

AUTO = "auto"
"""The layout name that asks discovery to try every detectable layout."""
NO_LAYOUT = "none"
"""``Discovery.layout`` when no layout pairs anything."""


def _register(*layouts: Layout) -> Mapping[str, Layout]:
    registry: dict[str, Layout] = {}
    for layout in layouts:
        if layout.name in registry or layout.name in (AUTO, NO_LAYOUT):
            raise ValueError(f"source layout {layout.name!r} registered twice or reserved")
        registry[layout.name] = layout
    return MappingProxyType(registry)


LAYOUTS: Mapping[str, Layout] = _register(
    kaggle.LAYOUT,
    nnunet.LAYOUT,
    separate.LAYOUT,
    suffix.LAYOUT,
    points.LAYOUT,
    slides.LAYOUT,  # before polygons: a pyramidal a.tif + a.geojson is a slide
    polygons.LAYOUT,
    labelbox.LAYOUT,
    pattern.LAYOUT,
)


def layout_names() -> tuple[str, ...]:
    """``'auto'`` and the name of every registered layout (the values ``--source-layout`` takes)."""
    return (AUTO, *LAYOUTS)


def get_layout(name: str) -> Layout:
    """The registered layout called ``name``.

    Raises
    ------
    KeyError
        Naming the layouts there are.
    """
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"no source layout {name!r}; known: {', '.join(LAYOUTS)}") from None
