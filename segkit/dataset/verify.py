"""Checking a prepared data set against its manifest (``segkit verify DST``).

Every file the manifest lists must exist with the SHA-256 it records, and no other file may
sit among them. Hashing a large data set takes a while, so the result for each file is kept
in ``DST/verify-cache.json`` (size, modification time, change time, inode and hash); a later
check re-hashes only the files whose stat changed. The change time (``st_ctime``) cannot be
set back by a user, so a file rewritten and then ``touch``-ed to its old time is hashed again.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segkit.dataset.manifest import MANIFEST_NAME, Manifest, load_manifest
from segkit.files import atomic_write_text, sha256_file, stat_key

__all__ = [
    "CACHE_NAME",
    "FileCheck",
    "VerifyError",
    "VerifyReport",
    "check_listed_files",
    "keep_checked",
    "require_trainable",
    "require_verified",
    "verify_dataset",
]

CACHE_NAME = "verify-cache.json"
_CACHE_VERSION = 1
# Files of a data set that the manifest does not list by design.
_OWN_FILES = frozenset({MANIFEST_NAME, CACHE_NAME})
_NAMED = 10  # problems named per kind in a message


class VerifyError(ValueError):
    """A prepared data set that differs from its manifest; the message names the files."""


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_dataset` found.

    Attributes
    ----------
    root : Path
        The data set folder.
    checked : int
        Files listed in the manifest.
    hashed : int
        Files whose SHA-256 was computed this time (the rest came from the cache).
    missing, changed, extra : tuple of str
        Paths relative to ``root``: listed but absent; present with another SHA-256; present
        but not listed.
    """

    root: Path
    checked: int
    hashed: int
    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    extra: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the data set is exactly what its manifest says."""
        return not (self.missing or self.changed or self.extra)

    def problems(self) -> list[str]:
        """One line per problem kind, naming up to ten files each."""
        lines = []
        for kind, paths in (("missing", self.missing), ("changed", self.changed),
                            ("not in the manifest", self.extra)):  # fmt: skip
            if paths:
                named = ", ".join(paths[:_NAMED])
                more = f" and {len(paths) - _NAMED} more" if len(paths) > _NAMED else ""
                lines.append(f"{len(paths)} {kind}: {named}{more}")
        return lines

    def format(self) -> str:
        """A short human-readable report."""
        if self.ok:
            return (
                f"{self.root}: {self.checked} files match the manifest "
                f"({self.hashed} hashed, {self.checked - self.hashed} unchanged since last check)"
            )
        return f"{self.root}: differs from its manifest\n  " + "\n  ".join(self.problems())

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "ok": self.ok,
            "checked": self.checked,
            "hashed": self.hashed,
            "missing": list(self.missing),
            "changed": list(self.changed),
            "extra": list(self.extra),
        }


def _stat_key(st: os.stat_result) -> list[int]:
    return list(stat_key(st))  # a list: the cache is JSON


def _read_cache(root: Path, fingerprint: str) -> dict[str, list[Any]]:
    try:
        data = json.loads((root / CACHE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if (
        not isinstance(data, dict)
        or data.get("version") != _CACHE_VERSION
        or data.get("fingerprint") != fingerprint
        or not isinstance(data.get("files"), dict)
    ):
        return {}
    return data["files"]


def _write_cache(root: Path, fingerprint: str, files: dict[str, list[Any]]) -> None:
    text = json.dumps({"version": _CACHE_VERSION, "fingerprint": fingerprint, "files": files})
    # A read-only data set is verified all the same, just without a cache.
    with contextlib.suppress(OSError):
        atomic_write_text(root / CACHE_NAME, text + "\n")


def _listed_files(manifest: Manifest) -> dict[str, str]:
    listed: dict[str, str] = {}
    for pair in manifest.pairs:
        listed[pair.image] = pair.image_sha256
        if pair.mask:  # empty for a pair with points and no mask
            listed[pair.mask] = pair.mask_sha256
        for rel, digest in _extra_parts(pair):
            listed[rel] = digest
    return listed


def _extra_parts(pair: Any) -> Iterator[tuple[str, str]]:
    """Further files a pair lists (e.g. an instance label image), as (path, sha256)."""
    for key, value in vars(pair).items():
        if key in ("image", "mask") or not isinstance(value, str) or not value:
            continue
        digest = getattr(pair, f"{key}_sha256", None)
        if isinstance(digest, str) and not key.startswith("source_"):
            yield value, digest


def _is_own_temporary(rel: str) -> bool:
    """A temporary file of an atomic write of the manifest or the cache, still in flight."""
    return any(rel.startswith(f".{name}.") and rel.endswith(".part") for name in _OWN_FILES)


def _present_files(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if rel in _OWN_FILES or _is_own_temporary(rel):
                continue
            yield rel


def verify_dataset(dst: str | Path, *, use_cache: bool = True) -> VerifyReport:
    """Check every file of a prepared data set against its manifest.

    Parameters
    ----------
    dst : path
        The prepared data set folder (written by ``segkit prepare``).
    use_cache : bool, default True
        Re-hash only files whose size, times or inode changed since the last check
        (``DST/verify-cache.json``). False hashes every file.

    Returns
    -------
    VerifyReport
        ``report.ok`` is True when nothing is missing, changed or extra.

    Raises
    ------
    ManifestError
        When ``DST/manifest.json`` is missing or invalid.
    """
    manifest = load_manifest(dst)
    check = check_listed_files(manifest, use_cache=use_cache)
    listed = _listed_files(manifest)
    extra = [rel for rel in _present_files(manifest.root) if rel not in listed]
    return VerifyReport(
        root=manifest.root,
        checked=len(listed),
        hashed=check.hashed,
        missing=check.missing,
        changed=check.changed,
        extra=tuple(extra),
    )


@dataclass(frozen=True)
class FileCheck:
    """The files a manifest lists, checked against their SHA-256 (see :func:`check_listed_files`).

    ``entries`` maps each present file to its cache entry (size, modification time, change
    time, inode, SHA-256 found).
    """

    missing: tuple[str, ...]
    changed: tuple[str, ...]
    hashed: int
    entries: Mapping[str, list[Any]]


def check_listed_files(manifest: Manifest, *, use_cache: bool = True) -> FileCheck:
    """Hash every file ``manifest`` lists (through the stat cache) and compare.

    ``segkit prepare`` calls this before it reuses earlier outputs. With ``use_cache`` the
    cache is read, and written back when it changed.
    """
    root = manifest.root
    listed = _listed_files(manifest)
    cache = _read_cache(root, manifest.fingerprint) if use_cache else {}
    new_cache: dict[str, list[Any]] = {}
    missing, changed = [], []
    hashed = 0
    for rel in sorted(listed):
        path = root / rel
        try:
            st = path.stat()
        except FileNotFoundError:
            missing.append(rel)
            continue
        key = _stat_key(st)
        cached = cache.get(rel)
        if cached is not None and list(cached[:4]) == key:
            digest = str(cached[4])
        else:
            digest = sha256_file(path)
            hashed += 1
        new_cache[rel] = [*key, digest]
        if digest != listed[rel]:
            changed.append(rel)
    if use_cache and new_cache != cache:
        _write_cache(root, manifest.fingerprint, new_cache)
    return FileCheck(tuple(missing), tuple(changed), hashed, new_cache)


def keep_checked(manifest: Manifest, checked: Mapping[str, list[Any]]) -> None:
    """Start ``manifest``'s cache with files checked in another folder and hard-linked here.

    ``checked`` holds cache entries from :func:`check_listed_files` under the earlier folder.
    Linking a file changes its change time, so an entry is kept when the file here still has
    the size, modification time and inode it had when it was hashed, and its SHA-256 is the
    one the manifest lists.
    """
    listed = _listed_files(manifest)
    files: dict[str, list[Any]] = {}
    for rel, entry in checked.items():
        if listed.get(rel) != entry[4]:
            continue
        try:
            key = _stat_key((manifest.root / rel).stat())
        except OSError:
            continue
        if [key[0], key[1], key[3]] == [entry[0], entry[1], entry[3]]:
            files[rel] = [*key, entry[4]]
    if files:
        _write_cache(manifest.root, manifest.fingerprint, files)


def require_verified(dst: str | Path) -> VerifyReport:
    """:func:`verify_dataset`, raising :class:`VerifyError` when the data set differs.

    The message names the data set, the files and how to proceed.
    """
    report = verify_dataset(dst)
    if not report.ok:
        raise VerifyError(
            f"{report.root}: the data set differs from its manifest ("
            + "; ".join(report.problems())
            + "); run `segkit prepare` again to rebuild it, or pass --no-verify to train anyway"
        )
    return report


def require_trainable(dataset: Manifest | str | Path) -> Manifest:
    """Refuse a data set that cannot train a segmentation model (pairs without a mask).

    Parameters
    ----------
    dataset : Manifest or path
        The data set or its folder.

    Returns
    -------
    Manifest
        The manifest, when every pair has a mask.

    Raises
    ------
    VerifyError
        One line naming the data set and how many pairs have points and no mask.
    """
    manifest = dataset if isinstance(dataset, Manifest) else load_manifest(dataset)
    without = [p for p in manifest.pairs if not p.mask]
    if without:
        raise VerifyError(
            f"{manifest.root}: {len(without)} of {len(manifest.pairs)} pairs have points and no "
            f"mask (e.g. {without[0].name!r}): a points data set counts and validates, it does "
            "not train; prepare a source with masks or polygons"
        )
    return manifest
