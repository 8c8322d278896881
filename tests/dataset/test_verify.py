"""A prepared data set checked against its manifest: missing, changed, extra; the stat cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from segkit.cli import main
from segkit.dataset.prepare import prepare_dataset
from segkit.dataset.verify import (
    CACHE_NAME,
    VerifyError,
    require_verified,
    verify_dataset,
)
from segkit.synthetic import make_synthetic_dataset
from segkit.template import DatasetTemplate

TEMPLATE = DatasetTemplate(height=32, width=32, fit="stretch")


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    src = make_synthetic_dataset(tmp_path / "src", 6, height=40, width=40)
    dst = tmp_path / "dst"
    prepare_dataset(src, dst, TEMPLATE, workers=1, progress=False)
    return dst


def _first_image(dst: Path) -> Path:
    manifest = json.loads((dst / "manifest.json").read_text())
    return dst / manifest["pairs"][0]["image"]


def test_untouched_data_set_verifies(prepared: Path) -> None:
    report = verify_dataset(prepared)
    assert report.ok, report.format()
    assert report.checked == 12 and report.hashed == 12
    assert (prepared / CACHE_NAME).is_file()


def test_second_check_hashes_only_what_changed(prepared: Path) -> None:
    verify_dataset(prepared)
    assert verify_dataset(prepared).hashed == 0
    image = _first_image(prepared)
    image.write_bytes(image.read_bytes())  # same bytes, new times: hashed again, still fine
    report = verify_dataset(prepared)
    assert report.ok and report.hashed == 1


def test_changed_file_is_named_even_when_its_times_are_restored(prepared: Path) -> None:
    verify_dataset(prepared)
    image = _first_image(prepared)
    st = image.stat()
    data = bytearray(image.read_bytes())
    data[-20] ^= 0xFF
    image.write_bytes(bytes(data))
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old mtime, same size
    report = verify_dataset(prepared)
    rel = image.relative_to(prepared).as_posix()
    assert not report.ok and report.changed == (rel,)
    assert rel in report.format()


def test_missing_and_extra_files_are_named(prepared: Path) -> None:
    image = _first_image(prepared)
    image.unlink()
    (prepared / "train" / "stray.png").write_bytes(b"x")
    report = verify_dataset(prepared)
    assert report.missing == (image.relative_to(prepared).as_posix(),)
    assert report.extra == ("train/stray.png",)
    with pytest.raises(VerifyError, match="stray.png"):
        require_verified(prepared)


def test_read_only_data_set_verifies_without_a_cache(
    prepared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import segkit.dataset.verify as verify

    def refuse(path: object, text: str) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(verify, "atomic_write_text", refuse)  # as on a read-only mount
    assert verify_dataset(prepared).ok
    assert not (prepared / CACHE_NAME).exists()


def test_cli_exit_codes(prepared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(prepared)]) == 0
    assert "match the manifest" in capsys.readouterr().out
    image = _first_image(prepared)
    image.write_bytes(b"not an image")
    assert main(["verify", str(prepared), "--full"]) == 1
    assert image.name in capsys.readouterr().err
    assert main(["verify", str(prepared), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and len(report["changed"]) == 1


def test_cli_no_manifest_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no manifest" in err[0]
