"""Layout ``slides``: a whole slide and a QuPath GeoJSON of the same name beside it.

``case.svs`` + ``case.geojson``; the stem of ``a.ome.tif`` is ``a`` (``a.ome.tif`` +
``a.geojson``). A file is a slide when :func:`segkit.slides.is_slide` says so (vendor
formats, pyramidal or very large TIFFs), read from its header only; a plain TIFF with a
GeoJSON is left to layout ``polygons``. The slide is cut into tiles inside the GeoJSON's
regions of interest by :mod:`segkit.dataset.slide_tiles`.
"""

from __future__ import annotations

from segkit.dataset.layouts.base import Found, Layout, Request, UnmatchedFile, parent

__all__ = ["LAYOUT", "SLIDE_SUFFIXES", "find", "slide_stem"]

#: Suffixes of the files this layout looks at (OpenSlide's formats, OME-TIFF, TIFF).
SLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".bif", ".vms", ".tif", ".tiff")


def slide_stem(rel: str) -> str:
    """The file name without its suffix, and without ``.ome`` (``a.ome.tif`` -> ``a``)."""
    name = rel.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    name = name[:dot] if dot > 0 else name
    return name[:-4] if name.lower().endswith(".ome") else name


def find(files: list[str], request: Request) -> Found:
    """Pair each slide with ``STEM.geojson`` in its folder."""
    from segkit.slides import is_slide

    found = Found()
    geojson = {f for f in request.others if f.lower().endswith(".geojson")}
    candidates = sorted(
        {f for f in (*files, *request.others) if f.lower().endswith(SLIDE_SUFFIXES)}
    )
    for f in candidates:
        folder = parent(f)
        annotation = (
            f"{folder}/{slide_stem(f)}.geojson" if folder != "." else f"{slide_stem(f)}.geojson"
        )
        if annotation not in geojson:
            if f in files:
                found.images_without_mask.append(f)
            continue
        try:
            slide = is_slide(request.root / f)
        except (OSError, ValueError) as exc:
            found.unrelated.append(UnmatchedFile(f, f"cannot read the slide header ({exc})"))
            continue
        if slide:
            found.add_annotated(f, annotation, name=slide_stem(f))
        elif f in files:
            found.images_without_mask.append(f)
    return found


LAYOUT = Layout(
    name="slides",
    summary="a whole slide (SVS, NDPI, OME-TIFF, pyramidal TIFF ...) + STEM.geojson (QuPath)",
    find=find,
)
