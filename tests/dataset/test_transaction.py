"""The destination transaction: a temporary folder beside dst, swapped in whole or not at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from segkit.dataset.transaction import (
    OLD_MARK,
    TMP_MARK,
    FolderTransaction,
    remove_stale,
    swap_into_place,
)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_commit_replaces_dst_whole(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    (dst / "old").mkdir(parents=True)
    (dst / "old" / "a.txt").write_text("old")
    with FolderTransaction(dst) as tx:
        out = tx.create()
        assert out.parent == tmp_path and out.name.startswith(f".dst{TMP_MARK}{os.getpid()}-")
        (out / "new.txt").write_text("new")
        assert (dst / "old" / "a.txt").read_text() == "old"  # untouched until commit
        tx.commit()
    assert sorted(p.name for p in dst.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["dst"]  # no temporary or old folder left


def test_commit_into_missing_or_empty_dst(tmp_path: Path) -> None:
    for dst in (tmp_path / "deep" / "missing", tmp_path / "empty"):
        if dst.name == "empty":
            dst.mkdir()
        with FolderTransaction(dst) as tx:
            (tx.create() / "x").write_text("1")
            tx.commit()
        assert (dst / "x").read_text() == "1"


def test_error_leaves_dst_as_it_was(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("keep")
    with pytest.raises(RuntimeError, match="boom"), FolderTransaction(dst) as tx:
        (tx.create() / "half.txt").write_text("half")
        raise RuntimeError("boom")
    assert not tx.committed and not tx.tmp.exists()
    assert [p.name for p in dst.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["dst"]


def test_stale_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    dead, alive = dead_pid(), os.getpid()
    stale_tmp = tmp_path / f".dst{TMP_MARK}{dead}-abcd1234"
    stale_old = tmp_path / f".dst{OLD_MARK}{dead}-abcd1234"
    running = tmp_path / f".dst{TMP_MARK}{alive}-abcd1234"
    other = tmp_path / ".dst.segkit-notes"
    unrelated = tmp_path / f".other{TMP_MARK}{dead}-abcd1234"
    for p in (stale_tmp, stale_old, running, other, unrelated):
        p.mkdir()
    with FolderTransaction(dst):
        pass
    assert not stale_tmp.exists() and not stale_old.exists()
    assert running.exists() and other.exists() and unrelated.exists()
    remove_stale(tmp_path / "missing" / "dst")  # a missing parent is nothing to clean


def test_swap_moves_the_old_folder_aside_first(tmp_path: Path, monkeypatch) -> None:
    dst, tmp = tmp_path / "dst", tmp_path / "new"
    dst.mkdir()
    (dst / "a").write_text("old")
    tmp.mkdir()
    (tmp / "b").write_text("new")
    renames: list[tuple[str, str]] = []
    real_rename = os.rename

    def rename(a: Path, b: Path) -> None:
        renames.append((Path(a).name, Path(b).name))
        real_rename(a, b)

    monkeypatch.setattr(os, "rename", rename)
    swap_into_place(tmp, dst)
    # Two renames: dst aside, then the complete folder in; dst is never half written.
    assert [a for a, _ in renames] == ["dst", "new"]
    assert renames[0][1].startswith(f".dst{OLD_MARK}") and renames[1][1] == "dst"
    assert [p.name for p in dst.iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["dst"]
