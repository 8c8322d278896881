"""Uploads and downloads over a real sshd, with the connection dropped in the middle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segkit.remote.ssh import STREAM_THRESHOLD, ConnectionLostError, SSHSession
from segkit.remote.sync import download_tree, local_manifest, remote_manifest, upload_tree

pytestmark = pytest.mark.remote


class DroppingFile:
    """A remote file whose connection 'drops' (EOFError) after ``fail_after`` bytes."""

    def __init__(self, fh, fail_after: int) -> None:
        self._fh = fh
        self._left = fail_after

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise EOFError("connection dropped (simulated)")
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._fh.read(size)
        self._left -= len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.__exit__(*exc)


def _drop_downloads(monkeypatch, *, failures: int, fail_after: int) -> list[str]:
    """Make the first ``failures`` remote opens drop after ``fail_after`` bytes."""
    opened: list[str] = []
    original = SSHSession.open_for_download

    def open_for_download(self, path, size):
        fh = original(self, path, size)
        opened.append(path)
        if len(opened) <= failures:
            return DroppingFile(fh, fail_after)
        return fh

    monkeypatch.setattr(SSHSession, "open_for_download", open_for_download)
    return opened


@pytest.fixture
def session(sshd):
    with SSHSession(sshd.target(), connect_timeout=5, retries=3, retry_delay=0.01) as s:
        s.connect()
        yield s


def _remote_file(tmp_path: Path, size: int = 300_000) -> Path:
    p = tmp_path / "remote" / "big.bin"
    p.parent.mkdir(parents=True)
    p.write_bytes(os.urandom(size))
    return p


@pytest.mark.parametrize("size", [300_000, STREAM_THRESHOLD + 1000])  # SFTP, then `cat`
def test_dropped_download_is_retried_and_complete(session, tmp_path, monkeypatch, size):
    src = _remote_file(tmp_path, size)
    opened = _drop_downloads(monkeypatch, failures=2, fail_after=size // 3)
    dst = session.get_file(str(src), tmp_path / "local" / "big.bin", size=src.stat().st_size)
    assert dst.read_bytes() == src.read_bytes()
    assert len(opened) == 3  # two dropped attempts, one complete
    assert [p.name for p in dst.parent.iterdir()] == ["big.bin"]  # no temporary files left


@pytest.mark.parametrize("size", [300_000, STREAM_THRESHOLD + 1000])
def test_interrupted_download_never_replaces_a_good_file(session, tmp_path, monkeypatch, size):
    src = _remote_file(tmp_path, size)
    good = tmp_path / "local" / "big.bin"
    good.parent.mkdir()
    good.write_bytes(b"the good old version")
    _drop_downloads(monkeypatch, failures=99, fail_after=50_000)
    with pytest.raises(ConnectionLostError, match="download"):
        session.get_file(str(src), good, size=src.stat().st_size)
    assert good.read_bytes() == b"the good old version"
    assert [p.name for p in good.parent.iterdir()] == ["big.bin"]


def test_short_download_is_rejected_by_its_size(session, tmp_path):
    src = _remote_file(tmp_path, 1000)
    target = tmp_path / "local" / "x.bin"
    with pytest.raises(ConnectionLostError, match="received 1000 of 2000 bytes"):
        session.get_file(str(src), target, size=2000)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_dropped_upload_is_retried_without_leftovers(session, tmp_path, monkeypatch):
    local = tmp_path / "up.bin"
    local.write_bytes(os.urandom(200_000))
    calls = {"n": 0}
    original_sftp = SSHSession.sftp

    def flaky_sftp(self):
        calls["n"] += 1
        if calls["n"] == 1:
            self.close()  # the line drops before the first upload gets going
            raise EOFError("connection dropped (simulated)")
        return original_sftp(self)

    monkeypatch.setattr(SSHSession, "sftp", flaky_sftp)
    remote = tmp_path / "remote_up" / "up.bin"
    remote.parent.mkdir()
    session.put_file(local, str(remote))
    assert remote.read_bytes() == local.read_bytes()
    assert [p.name for p in remote.parent.iterdir()] == ["up.bin"]


def test_upload_and_download_tree_copy_only_differences(session, tmp_path, sshd):
    import sys

    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "one.txt").write_text("1")
    (src / "a" / "b" / "two.bin").write_bytes(os.urandom(5000))
    remote = str(tmp_path / "remote_tree")
    first = upload_tree(session, src, remote, python=sys.executable)
    assert sorted(first.copied) == ["a/b/two.bin", "one.txt"]
    assert remote_manifest(session, sys.executable, remote) == local_manifest(src)
    second = upload_tree(session, src, remote, python=sys.executable)
    assert second.copied == () and len(second.unchanged) == 2

    back = tmp_path / "back"
    down = download_tree(session, remote, back, python=sys.executable)
    assert sorted(down.copied) == ["a/b/two.bin", "one.txt"]
    assert local_manifest(back) == local_manifest(src)
    (Path(remote) / "one.txt").write_text("changed remotely")
    again = download_tree(session, remote, back, python=sys.executable)
    assert again.copied == ("one.txt",)
    assert (back / "one.txt").read_text() == "changed remotely"


@pytest.mark.parametrize("size", [None, STREAM_THRESHOLD])
def test_missing_remote_file_is_not_retried(session, tmp_path, size):
    with pytest.raises(FileNotFoundError):
        session.get_file(str(tmp_path / "nope.bin"), tmp_path / "local.bin", size=size)
    assert not (tmp_path / "local.bin").exists()


def test_unreachable_host_fails_after_the_retries(tmp_path):
    import socket

    from segkit.remote import SSHTarget

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    target = SSHTarget(host="127.0.0.1", port=port, known_hosts=str(tmp_path / "kh"))
    with pytest.raises(ConnectionLostError, match="after 2 attempt"):
        SSHSession(target, connect_timeout=1, retries=2, retry_delay=0.01).connect()


def test_wrong_key_fails_at_once(sshd, tmp_path):
    import subprocess
    import time

    from segkit.remote import SSHTarget
    from segkit.remote.ssh import RemoteError

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    target = SSHTarget(
        host=sshd.host,
        port=sshd.port,
        user=sshd.user,
        identity=str(other),
        known_hosts=str(sshd.known_hosts),
    )
    start = time.monotonic()
    with pytest.raises(RemoteError, match="authentication failed"):
        SSHSession(target, retries=5, retry_delay=1.0).connect()
    assert time.monotonic() - start < 5  # not retried: the key will not become right
    missing = SSHTarget(host="127.0.0.1", identity=str(tmp_path / "no_such_key"))
    with pytest.raises(FileNotFoundError, match="no_such_key"):
        SSHSession(missing).connect()
