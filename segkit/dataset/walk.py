"""List the files of a source data set, and decide which symbolic links to follow.

A source is only read, and only inside its folder: a link (to a file or a folder) whose target
resolves outside the source is not followed, unless the caller asks for it
(``follow_symlinks``, ``--follow-symlinks``); it is listed instead, so reports can name it.
Links that stay inside the source are followed: a file link is a file like any other, listed
under the link's path, and a folder link is walked once, under the link's path, unless it
leads to a folder on the way to it (a loop: not walked at all). A file reached both through its
real path and through a link is listed under both paths, as any copy would be. Names that start
with ``.`` (and folders that start with ``__``) are skipped, as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from segkit.imaging import IMAGE_EXTENSIONS

__all__ = ["SourceFiles", "describe_links_outside", "walk_source"]


@dataclass(frozen=True)
class SourceFiles:
    """What :func:`walk_source` found; paths relative to the source, ``/``-separated.

    Attributes
    ----------
    images : tuple of str
        Files with an image extension.
    others : tuple of str
        Every other file.
    links_outside : tuple of str
        Links whose target lies outside the source, not followed (sorted).
    """

    images: tuple[str, ...]
    others: tuple[str, ...]
    links_outside: tuple[str, ...] = ()


def _inside(real: str, root_real: str) -> bool:
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


class _Walk:
    def __init__(self, root: Path, follow_symlinks: bool) -> None:
        self.root_real = os.path.realpath(root)
        self.follow = follow_symlinks
        self.images: list[str] = []
        self.others: list[str] = []
        self.outside: list[str] = []
        self.links_followed: set[str] = set()

    def run(self, root: Path) -> SourceFiles:
        """Walk depth first: a folder's files, then its subfolders, names sorted."""
        stack: list[tuple[str, tuple[str, ...], str]] = [(str(root), (self.root_real,), "")]
        while stack:
            path, chain, rel = stack.pop()
            stack.extend(reversed(self.folder(path, chain, rel)))
        return SourceFiles(tuple(self.images), tuple(self.others), tuple(sorted(self.outside)))

    def folder(
        self, path: str, chain: tuple[str, ...], rel_dir: str
    ) -> list[tuple[str, tuple[str, ...], str]]:
        """List the files of one folder; return its subfolders to walk (path, chain, rel).

        ``chain`` holds the real paths of the folders from the root down to this one.
        """
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return []
        subfolders = []
        for e in entries:
            name = e.name
            if name.startswith("."):
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                is_link = e.is_symlink()
                is_dir = e.is_dir()  # follows a link
            except OSError:
                continue
            if is_dir and name.startswith("__"):
                continue
            real = os.path.join(chain[-1], name)
            if is_link:
                target = os.path.realpath(e.path)
                if not self.follow and not _inside(target, self.root_real):
                    self.outside.append(rel)
                    continue
                if is_dir:
                    # A link to a folder on the way here is a loop; any link is walked once.
                    if target not in chain and real not in self.links_followed:
                        self.links_followed.add(real)
                        subfolders.append((e.path, (*chain, target), rel))
                    continue
            elif is_dir:
                subfolders.append((e.path, (*chain, real), rel))
                continue
            (self.images if name.lower().endswith(IMAGE_EXTENSIONS) else self.others).append(rel)
        return subfolders


def walk_source(root: str | Path, *, follow_symlinks: bool = False) -> SourceFiles:
    """The files under ``root``, following links by the rule in this module's docstring.

    Parameters
    ----------
    root : path
        The source folder.
    follow_symlinks : bool, default False
        Also follow links whose target lies outside ``root`` (loops are still walked once).

    Returns
    -------
    SourceFiles
    """
    return _Walk(Path(root), follow_symlinks).run(Path(root))


def describe_links_outside(links: tuple[str, ...] | list[str], *, max_items: int = 10) -> str:
    """The report line for links not followed (empty when there are none)."""
    if not links:
        return ""
    named = ", ".join(links[:max_items])
    more = f" and {len(links) - max_items} more" if len(links) > max_items else ""
    one = len(links) == 1
    verbs = "link leaves the source and was" if one else "links leave the source and were"
    return (
        f"{len(links)} {verbs} not followed: {named}{more} "
        f"(--follow-symlinks follows {'it' if one else 'them'})"
    )
