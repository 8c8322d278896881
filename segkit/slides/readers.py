"""Which reader opens a slide: a registry tried in order, and :func:`open_slide`.

The rules, first match wins (:data:`READERS`):

1. ``ome-tiff``: a TIFF with OME-XML -> :class:`~segkit.slides.tiff_reader.TiffSlide`
   (SubIFD pyramids and physical sizes are read the OME way);
2. ``openslide``: any format OpenSlide detects (SVS, NDPI, MRXS, SCN, BIF, Philips TIFF,
   DICOM, generic tiled TIFF) -> :class:`~segkit.slides.openslide_reader.OpenSlideSlide`;
3. ``tiled-tiff``: a TIFF that is tiled or has several resolution levels, when OpenSlide is
   absent or does not know it -> :class:`~segkit.slides.tiff_reader.TiffSlide`.

A new reader is one :class:`Reader` added with :func:`register_reader`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segkit.slides.base import Slide
from segkit.slides.openslide_reader import OpenSlideSlide, openslide_format
from segkit.slides.tiff_reader import TiffSlide, is_ome_tiff, is_tiled_tiff, tiff_level_sizes

__all__ = [
    "Reader",
    "READERS",
    "SLIDE_SUFFIXES",
    "SlideReadError",
    "register_reader",
    "open_slide",
    "is_slide",
    "is_slide_file",
]

#: File suffixes that may be whole slides (others are always plain images).
SLIDE_SUFFIXES = (".tif", ".tiff", ".svs", ".ndpi", ".mrxs", ".scn", ".bif", ".vms", ".vmu",
                  ".svslide")  # fmt: skip


class SlideReadError(ValueError):
    """No registered reader can open the file (the message names it)."""


@dataclass(frozen=True)
class Reader:
    """One way to open slides.

    Attributes
    ----------
    name : str
    claims : callable
        ``claims(path) -> bool``: True when this reader should open the file. Cheap: it reads
        headers only.
    open : callable
        ``open(path) -> Slide``.
    """

    name: str
    claims: Callable[[Path], bool]
    open: Callable[[Path], Slide]


def _openslide_claims(path: Path) -> bool:
    return openslide_format(path) is not None


#: The readers in the order they are asked.
READERS: list[Reader] = [
    Reader("ome-tiff", is_ome_tiff, TiffSlide),
    Reader("openslide", _openslide_claims, OpenSlideSlide),
    Reader("tiled-tiff", is_tiled_tiff, TiffSlide),
]


def register_reader(reader: Reader, *, before: str | None = None) -> None:
    """Add ``reader`` to :data:`READERS`, last or just before the reader named ``before``."""
    names = [r.name for r in READERS]
    if reader.name in names:
        raise ValueError(f"a slide reader named {reader.name!r} is already registered")
    if before is None:
        READERS.append(reader)
    elif before in names:
        READERS.insert(names.index(before), reader)
    else:
        raise ValueError(f"before: no slide reader named {before!r}; registered: {names}")


def open_slide(path: str | Path) -> Slide:
    """Open ``path`` with the first reader of :data:`READERS` that claims it.

    The result is a :class:`~segkit.slides.base.Slide`; the built-in readers are context
    managers (``with open_slide(p) as slide: ...``).

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    SlideReadError
        When no reader claims the file (one line naming it).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such slide file")
    for reader in READERS:
        if reader.claims(p):
            return reader.open(p)
    tried = ", ".join(r.name for r in READERS)
    raise SlideReadError(
        f"{p}: not a slide segkit can read (tried {tried}); expected a vendor slide, an "
        "OME-TIFF or a tiled/pyramidal TIFF (a small image is read with segkit.imaging.read_image"
        "; for vendor formats install the slides extra: pip install -e '.[slides]')"
    )


def is_slide(path: str | Path, *, max_pixels: int | None = None) -> bool:
    """Whether ``path`` should be read as a whole slide rather than held in memory.

    True for the vendor formats OpenSlide detects (other than generic TIFF), and for TIFFs
    with several resolution levels or more pixels at full resolution than ``max_pixels``
    (default :data:`segkit.imaging.DEFAULT_MAX_PIXELS`). Everything else (PNG, JPEG, small
    TIFF) keeps segkit's in-memory path.
    """
    from segkit.imaging import DEFAULT_MAX_PIXELS

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
    fmt = openslide_format(p)
    if fmt is not None and fmt != "generic-tiff":
        return True
    sizes = tiff_level_sizes(p)
    if len(sizes) > 1:
        return True
    return bool(sizes) and sizes[0][0] * sizes[0][1] > limit


def is_slide_file(path: str | Path, *, max_pixels: int | None = None) -> bool:
    """:func:`is_slide` for a file with one of the :data:`SLIDE_SUFFIXES`; False otherwise."""
    if Path(path).suffix.lower() not in SLIDE_SUFFIXES:
        return False
    return is_slide(path, max_pixels=max_pixels)
