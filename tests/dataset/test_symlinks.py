"""Symbolic links in a source: those that stay inside are followed, those that leave are not."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from segkit.cli import main
from segkit.dataset import SourceLayout, discover_pairs, inspect_dataset, prepare_dataset
from segkit.template import DatasetTemplate, save_template

T32 = DatasetTemplate(height=32, width=32)
OUTSIDE = ("images/far", "images/passwd.png", "images/x.png", "masks/far", "masks/x.png")


@pytest.fixture
def linked_source(tmp_path: Path, write_pair) -> Path:
    """Two real pairs, pairs reached through links inside the source, links that leave it,
    and a folder link that loops back."""
    src = tmp_path / "src"
    for i in range(2):
        write_pair(src / "images" / f"s{i}.png", src / "masks" / f"s{i}.png", i)
    # Inside: a file link and a folder link into a store folder of the source.
    write_pair(src / "store" / "in.png", src / "store" / "in_m.png", 2)
    (src / "images" / "in.png").symlink_to(src / "store" / "in.png")
    (src / "masks" / "in.png").symlink_to(Path("..") / "store" / "in_m.png")
    write_pair(src / "images" / "sub" / "a.png", src / "store" / "masks_sub" / "a.png", 3)
    (src / "masks" / "sub").symlink_to(src / "store" / "masks_sub", target_is_directory=True)
    # A loop: a folder link to an ancestor.
    (src / "images" / "sub" / "loop").symlink_to(src / "images", target_is_directory=True)
    # Outside: a file pair, a folder pair and a system file.
    out = tmp_path / "outside"
    write_pair(out / "x.png", out / "x_m.png", 4)
    write_pair(out / "far" / "f.png", out / "far_m" / "f.png", 5)
    (src / "images" / "x.png").symlink_to(out / "x.png")
    (src / "masks" / "x.png").symlink_to(out / "x_m.png")
    (src / "images" / "far").symlink_to(out / "far", target_is_directory=True)
    (src / "masks" / "far").symlink_to(out / "far_m", target_is_directory=True)
    (src / "images" / "passwd.png").symlink_to("/etc/passwd")
    return src


def test_links_that_leave_the_source_are_listed_not_followed(linked_source: Path) -> None:
    d = discover_pairs(linked_source, "separate")
    assert {(p.image, p.masks[0]) for p in d.pairs} == {
        ("images/s0.png", "masks/s0.png"),
        ("images/s1.png", "masks/s1.png"),
        ("images/in.png", "masks/in.png"),
        ("images/sub/a.png", "masks/sub/a.png"),
    }
    assert d.links_outside == OUTSIDE
    everything = [p.image for p in d.pairs] + list(d.images_without_mask)
    everything += [u.file for u in d.unrelated] + list(d.other_files)
    assert not [f for f in everything if "loop" in f or "passwd" in f or "far" in f]


def test_follow_symlinks_reads_links_that_leave(linked_source: Path) -> None:
    d = discover_pairs(linked_source, SourceLayout("separate", follow_symlinks=True))
    images = {p.image for p in d.pairs}
    assert {"images/x.png", "images/far/f.png"} <= images
    assert d.links_outside == ()
    assert not [p for p in images if "loop" in p]


def test_a_loop_is_walked_once(tmp_path: Path, write_pair) -> None:
    src = tmp_path / "src"
    write_pair(src / "a.png", src / "a_mask.png", 0)
    (src / "again").symlink_to(src, target_is_directory=True)
    (src / "deep").mkdir()
    (src / "deep" / "up").symlink_to(Path(".."), target_is_directory=True)
    for follow in (False, True):
        d = discover_pairs(src, SourceLayout(follow_symlinks=follow))
        assert [p.image for p in d.pairs] == ["a.png"] and not d.images_without_mask


def test_reports_name_the_links(linked_source: Path, tmp_path: Path) -> None:
    line = f"5 links leave the source and were not followed: {', '.join(OUTSIDE)}"
    inspected = inspect_dataset(linked_source, "separate", workers=1)
    assert inspected.links_outside == OUTSIDE and line in inspected.format()
    assert inspected.to_dict()["links_outside"] == list(OUTSIDE)
    report = prepare_dataset(linked_source, tmp_path / "dst", T32, workers=1, progress=False)
    assert len(report.manifest.pairs) == 4 and line in report.format()
    assert report.to_dict()["links_outside"] == list(OUTSIDE)
    assert {s.file for s in report.manifest.skipped} >= set(OUTSIDE)


def test_cli_follow_symlinks(linked_source: Path, tmp_path: Path, capsys) -> None:
    template = save_template(T32, tmp_path / "t.json")
    assert main(["inspect", str(linked_source), "--source-layout", "separate"]) == 0
    assert "5 links leave the source" in capsys.readouterr().out
    assert main(["inspect", str(linked_source), "--follow-symlinks"]) == 0
    assert "links leave" not in capsys.readouterr().out
    out = tmp_path / "r.json"
    argv = ["prepare", str(linked_source), str(tmp_path / "dst"), "-t", str(template),
            "--no-progress", "--workers", "1", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(out.read_text())["pairs"] == 4
    assert main([*argv, "--overwrite", "--follow-symlinks"]) == 0
    report = json.loads(out.read_text())
    assert report["pairs"] == 6 and report["links_outside"] == []
    assert "passwd" in {Path(s["file"]).name.split(".")[0] for s in report["skipped"]}


def test_a_target_that_leaves_is_never_opened(linked_source: Path, monkeypatch) -> None:
    outside = str(linked_source.parent / "outside")
    opened: list[str] = []
    real_open = io.open

    def spy(file, *a, **kw):  # type: ignore[no-untyped-def]
        if isinstance(file, (str, os.PathLike)):
            opened.append(os.path.realpath(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr("builtins.open", spy)
    monkeypatch.setattr("io.open", spy)
    inspect_dataset(linked_source, "separate", workers=1)
    assert opened and [f for f in opened if f == "/etc/passwd" or f.startswith(outside)] == []
