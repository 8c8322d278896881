"""What every source layout unit shares: the request it answers, what it finds, path helpers.

A layout unit is a :class:`Layout`: a name, a one-line summary and a ``find(files, request)``
function that sorts the image files of a source (paths relative to its root, ``/``-separated)
into pairs, unpaired files and unrelated files. Path helpers work on those strings directly:
they run once per file, and building path objects would slow discovery down several times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Layout",
    "Request",
    "Found",
    "UnmatchedFile",
    "ANNOTATION_SUFFIXES",
    "annotation_files",
    "stem",
    "parent",
    "under",
    "strip_keyword",
]


@dataclass(frozen=True)
class UnmatchedFile:
    """A file that is not part of any pair, and why."""

    file: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Request:
    """What a layout unit is asked to read.

    Attributes
    ----------
    root : Path
        The source folder (layouts only read it to check folders the user named).
    keyword : str
        The mask keyword (``a_mask.png``).
    keyword_named : bool
        The user named ``keyword``; when false the suffix layout also tries common keywords.
    image_dir, mask_dir : str, optional
        Folders named for the separate layout.
    image_pattern, mask_pattern : str, optional
        Regular expressions for the pattern layout.
    others : tuple of str
        The source's files that are not images (annotation files, exports), for the layouts
        that pair images with annotation files.
    """

    root: Path
    keyword: str = "_mask"
    keyword_named: bool = True
    image_dir: str | None = None
    mask_dir: str | None = None
    image_pattern: str | None = None
    mask_pattern: str | None = None
    others: tuple[str, ...] = ()


ANNOTATION_SUFFIXES = (".xml", ".geojson", ".json")
"""Suffixes of the annotation files layouts pair with images (Aperio XML, GeoJSON, JSON)."""


@dataclass
class Found:
    """What one layout made of the files: pairs and the files left over.

    ``pairs`` holds ``(image, masks, mask_folder, stem)``; ``stem`` becomes the pair's name.
    ``keyword`` is the mask keyword the layout settled on, when it chose one.
    ``annotations`` maps a paired image to its annotation file and, for a file that covers
    several images (a Labelbox export), the key of the image in it; such a pair may have no
    mask file (``masks == ()``): its mask is rasterised from the polygons, or it has points.
    """

    pairs: list[tuple[str, tuple[str, ...], str | None, str]] = field(default_factory=list)
    images_without_mask: list[str] = field(default_factory=list)
    masks_without_image: list[str] = field(default_factory=list)
    unrelated: list[UnmatchedFile] = field(default_factory=list)
    keyword: str | None = None
    annotations: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def add_annotated(
        self, image: str, annotation: str, key: str | None = None, name: str | None = None
    ) -> None:
        """Pair ``image`` with an annotation file only (no mask file); ``name``: its stem."""
        self.pairs.append((image, (), None, name or stem(image)))
        self.annotations[image] = (annotation, key)

    def pair_by_key(
        self,
        images: dict[str, list[str]],
        masks: dict[str, list[str]],
        ambiguous: Callable[[str, list[str]], str],
    ) -> None:
        """Pair the one image and the one mask of every key (``masks`` is consumed).

        A key with several images or masks leaves all of them unrelated, with the reason
        ``ambiguous(key, files)``; the other files are images without a mask or masks
        without an image.
        """
        for key in sorted(images):
            candidates = masks.pop(key, [])
            if len(images[key]) == 1 and len(candidates) == 1:
                self.pairs.append((images[key][0], (candidates[0],), None, stem(images[key][0])))
            elif not candidates:
                self.images_without_mask.extend(images[key])
            else:
                files = images[key] + candidates
                reason = ambiguous(key, files)
                self.unrelated.extend(UnmatchedFile(f, reason) for f in files)
        for key in sorted(masks):
            self.masks_without_image.extend(masks[key])


@dataclass(frozen=True)
class Layout:
    """One source layout.

    Attributes
    ----------
    name : str
        What users call it (``--source-layout NAME``, ``Discovery.layout``).
    summary : str
        One line for help texts.
    find : callable
        ``find(files, request) -> Found``; ``files`` are the source's image files.
    detect : bool
        Tried by layout ``auto`` (in registry order; the one with the most pairs wins).
    options : tuple of str
        The :class:`~segkit.dataset.SourceLayout` fields that belong to this layout; giving
        them selects it.
    needs_options : bool
        The layout cannot run without its options.
    """

    name: str
    summary: str
    find: Callable[[list[str], Request], Found]
    detect: bool = True
    options: tuple[str, ...] = ()
    needs_options: bool = False


def stem(rel: str) -> str:
    """``PurePosixPath(rel).stem``, without building a path object (called per file)."""
    name = rel.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def parent(rel: str) -> str:
    """``PurePosixPath(rel).parent.as_posix()``, without building a path object."""
    slash = rel.rfind("/")
    return rel[:slash] if slash >= 0 else "."


def strip_keyword(name: str, keyword: str) -> str:
    """``name`` without a trailing ``keyword`` (unless that is all of it)."""
    return name[: -len(keyword)] if keyword and name.endswith(keyword) and name != keyword else name


def under(rel: str, folder: str) -> str | None:
    """``rel`` relative to ``folder`` (both relative to the root), or None."""
    if folder in ("", "."):
        return rel
    prefix = folder.rstrip("/") + "/"
    return rel[len(prefix) :] if rel.startswith(prefix) else None


def annotation_files(others: tuple[str, ...] | list[str]) -> list[str]:
    """The files among ``others`` whose suffix is an annotation file's."""
    return [f for f in others if f.lower().endswith(ANNOTATION_SUFFIXES)]
