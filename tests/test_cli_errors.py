"""Ordinary mistakes on the command line: one line naming the path and the problem."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from segkit.cli import main
from segkit.errors import describe_error
from segkit.synthetic import make_synthetic_dataset


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_template_that_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["template", "--check", str(tmp_path)]) == 1
    line = _one_line(capsys)
    assert str(tmp_path) in line and "Traceback" not in line


def test_path_through_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    assert main(["template", "--check", str(tmp_path / "f" / "t.json")]) == 1
    assert str(tmp_path / "f") in _one_line(capsys)


def test_inspect_json_output_checked_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_synthetic_dataset(tmp_path / "src", 2, height=32, width=32)
    import segkit.dataset.inspect as inspect_module

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data set was inspected before the output path was checked")

    monkeypatch.setattr(inspect_module, "inspect_dataset", never)
    assert main(["inspect", str(src), "--json", str(tmp_path)]) == 1
    line = _one_line(capsys)
    assert str(tmp_path) in line and "folder" in line


@pytest.mark.parametrize(
    ("code", "words"), [(errno.ENOSPC, "no space left"), (errno.EACCES, "permission denied")]
)
def test_disk_full_and_permission_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    words: str,
) -> None:
    import segkit.files

    def fail(target: object, data: bytes, **kwargs: object) -> None:
        raise OSError(code, "boom", str(target))

    monkeypatch.setattr(segkit.files, "atomic_write_bytes", fail)
    assert main(["template", str(tmp_path / "out.json")]) == 1
    line = _one_line(capsys)
    assert words in line and "out.json" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "segkit", "template", "--check", str(tmp_path)]
    plain = subprocess.run(cmd, capture_output=True, text=True)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    debug = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    env_debug = subprocess.run(
        cmd, capture_output=True, text=True, env={**_env(), "SEGKIT_DEBUG": "1"}
    )
    assert "Traceback" in env_debug.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_describe_error_is_short_and_single_line() -> None:
    huge = ValueError("bad names: " + ", ".join(["x"] * 5_000_000))
    text = describe_error(huge)
    assert len(text) <= 600 and "\n" not in text
    assert describe_error(RecursionError()) == "the input is nested too deeply to read"
    try:
        b"ok \xff".decode("utf-8")
    except UnicodeDecodeError as exc:
        assert "utf-8" in describe_error(exc)


def test_json_files_that_are_not_utf8_name_the_file(tmp_path: Path, capsys) -> None:
    from segkit.files import read_json

    bad = tmp_path / "manifest.json"
    bad.write_bytes(b'{"format_version": "\xff"}')
    with pytest.raises(ValueError, match="manifest.json: not UTF-8"):
        read_json(bad)
    assert main(["verify", str(tmp_path)]) == 1
    line = _one_line(capsys)
    assert "manifest.json: not UTF-8" in line
    (tmp_path / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(ValueError, match="deep.json: nested too deeply"):
        read_json(tmp_path / "deep.json")
    (tmp_path / "cfg.json").write_bytes(b"\xfe\xff")
    assert main(["train", str(tmp_path), "--config", str(tmp_path / "cfg.json")]) == 1
    assert "cfg.json: not UTF-8" in _one_line(capsys)
