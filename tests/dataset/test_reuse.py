"""Earlier outputs are reused only while they still hash as the manifest records."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import segkit.dataset.verify as verify
from segkit.dataset import compute_fingerprint, prepare_dataset
from segkit.dataset.verify import verify_dataset
from segkit.template import DatasetTemplate

T32 = DatasetTemplate(height=32, width=32)


def prep(src: Path, dst: Path, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("progress", False)
    return prepare_dataset(src, dst, T32, **kw)


def corrupt(path: Path) -> None:
    """Flip bytes in place, same size, and set the old modification time back."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_damaged_output_is_encoded_again(
    separate_source: Path, tmp_path: Path, overwrite: bool, damage: str
) -> None:
    dst = tmp_path / "dst"
    first = prep(separate_source, dst).manifest
    assert verify_dataset(dst).ok  # the stat cache now holds every output
    rec = first.pairs[3]
    if damage == "corrupt":
        corrupt(dst / rec.image)
    else:
        (dst / rec.mask).unlink()
    report = prep(separate_source, dst, overwrite=overwrite)
    assert not report.up_to_date
    assert (report.encoded, report.reused) == (1, 7)
    assert report.repaired == ((rec.image,) if damage == "corrupt" else (rec.mask,))
    assert "encoded again: 1" in report.format()
    m = report.manifest
    assert m.fingerprint == first.fingerprint == compute_fingerprint(m.template, m.pairs)
    assert sha(dst / rec.image) == rec.image_sha256 and sha(dst / rec.mask) == rec.mask_sha256
    check = verify_dataset(dst)
    assert check.ok, check.format()
    again = prep(separate_source, dst)
    assert again.up_to_date and again.repaired == ()


def test_damaged_output_with_a_changed_source_still_needs_overwrite(
    separate_source: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "dst"
    first = prep(separate_source, dst).manifest
    corrupt(dst / first.pairs[0].image)
    (separate_source / "images" / "s05.png").write_bytes(
        (separate_source / "images" / "s06.png").read_bytes()
    )
    manifest_before = (dst / "manifest.json").read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        prep(separate_source, dst)
    assert (dst / "manifest.json").read_bytes() == manifest_before
    report = prep(separate_source, dst, overwrite=True)
    assert report.encoded == 2 and verify_dataset(dst).ok


def test_unchanged_reruns_hash_outputs_once(
    separate_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dst = tmp_path / "dst"
    prep(separate_source, dst)
    hashed: list[str] = []
    real = verify.sha256_file

    def counting(path: str | Path, **kw: int) -> str:
        hashed.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr(verify, "sha256_file", counting)
    assert prep(separate_source, dst).up_to_date
    assert len(hashed) == 16  # no cache yet: every output is hashed once
    for overwrite in (False, True, True, False):
        hashed.clear()
        report = prep(separate_source, dst, overwrite=overwrite)
        assert report.reused == 8 and report.encoded == 0
        assert hashed == []  # the stat cache makes unchanged outputs free
    hashed.clear()
    assert verify_dataset(dst).ok and hashed == []
