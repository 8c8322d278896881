"""Copy folders to and from the remote machine, moving only what differs.

Both sides are described by a manifest ``{relative path: (size, sha256)}``; the remote one is
computed on the server by a short standard-library Python script, so one round trip lists a
whole folder. A file is transferred only when its size or hash differs, and each transfer is
atomic and retried (see :class:`~segkit.remote.ssh.SSHSession`).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from segkit.files import sha256_file
from segkit.remote.ssh import RemoteError, SSHSession

__all__ = ["SyncReport", "local_manifest", "remote_manifest", "upload_tree", "download_tree"]

Manifest = dict[str, tuple[int, str]]

# Runs on the server with any Python 3; prints {"rel/path": [size, sha256], ...}.
_MANIFEST_SCRIPT = r"""
import hashlib, json, os, sys
root = sys.argv[1]
out = {}
if os.path.isdir(root):
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if ".part-" in name or (name.startswith(".") and name.endswith(".part")):
                continue
            p = os.path.join(d, name)
            if not os.path.isfile(p):
                continue
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            out[rel] = [os.path.getsize(p), h.hexdigest()]
json.dump(out, sys.stdout)
"""


@dataclass(frozen=True)
class SyncReport:
    """What a transfer did: files copied, files already up to date, bytes copied."""

    copied: tuple[str, ...]
    unchanged: tuple[str, ...]
    bytes_copied: int


def local_manifest(root: str | Path) -> Manifest:
    """``{relative posix path: (size, sha256)}`` of every file under ``root``."""
    root = Path(root)
    out: Manifest = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file():
                rel = p.relative_to(root).as_posix()
                out[rel] = (p.stat().st_size, sha256_file(p))
    return out


def remote_manifest(session: SSHSession, python: str, root: str) -> Manifest:
    """The manifest of the remote folder ``root`` (empty when it does not exist)."""
    command = f"{python} -c {shlex.quote(_MANIFEST_SCRIPT)} {shlex.quote(root)}"
    text = session.retrying(f"list {root}", lambda: session.check(command))
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise RemoteError(f"listing {root} on {session.target} returned {text[:200]!r}") from None
    return {rel: (int(v[0]), str(v[1])) for rel, v in data.items()}


def _safe_rel(rel: str) -> str:
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith("/") or ".." in parts:
        raise RemoteError(f"refusing the unsafe path {rel!r} in a remote listing")
    return rel


def upload_tree(
    session: SSHSession,
    local_root: str | Path,
    remote_root: str,
    *,
    python: str,
    log: Callable[[str], None] | None = None,
) -> SyncReport:
    """Make ``remote_root`` hold every file of ``local_root``; copies only what differs.

    Remote files that are not in ``local_root`` are left alone.
    """
    local_root = Path(local_root)
    if not local_root.is_dir():
        raise FileNotFoundError(f"{local_root}: not a directory")
    mine = local_manifest(local_root)
    theirs = remote_manifest(session, python, remote_root)
    todo = [rel for rel, entry in mine.items() if theirs.get(rel) != entry]
    dirs = sorted({str(PurePosixPath(remote_root, rel).parent) for rel in todo} | {remote_root})
    session.check("mkdir -p " + " ".join(shlex.quote(d) for d in dirs))
    nbytes = 0
    for i, rel in enumerate(todo, 1):
        session.put_file(local_root / rel, str(PurePosixPath(remote_root, rel)))
        nbytes += mine[rel][0]
        if log and (i == len(todo) or i % 50 == 0):
            log(f"uploaded {i}/{len(todo)} file(s) to {remote_root}")
    unchanged = tuple(rel for rel in mine if rel not in set(todo))
    return SyncReport(tuple(todo), unchanged, nbytes)


def download_tree(
    session: SSHSession,
    remote_root: str,
    local_root: str | Path,
    *,
    python: str,
    log: Callable[[str], None] | None = None,
) -> SyncReport:
    """Copy every file of ``remote_root`` into ``local_root``; files already identical are
    skipped; each file is verified (size and SHA-256) before it replaces a local one."""
    local_root = Path(local_root)
    theirs = remote_manifest(session, python, remote_root)
    copied: list[str] = []
    unchanged: list[str] = []
    nbytes = 0
    for rel, (size, digest) in theirs.items():
        target = local_root / _safe_rel(rel)
        if target.is_file() and target.stat().st_size == size and sha256_file(target) == digest:
            unchanged.append(rel)
            continue
        session.get_file(str(PurePosixPath(remote_root, rel)), target, size=size, sha256=digest)
        copied.append(rel)
        nbytes += size
    if log:
        log(f"downloaded {len(copied)} file(s) ({nbytes / 1e6:.1f} MB) to {local_root}")
    return SyncReport(tuple(copied), tuple(unchanged), nbytes)
