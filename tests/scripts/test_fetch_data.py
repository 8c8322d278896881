"""scripts/fetch_data.py against a loopback HTTP server serving ../shared/data, and the manifest
against the data it describes."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "fetch_data.py"
MANIFEST = REPO_ROOT / "scripts" / "data_files.json"


def _load_script():
    spec = importlib.util.spec_from_file_location("fetch_data", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fetch_data = _load_script()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.corrupt: set[str] = set()  # served with the first byte flipped
        self.drop_once: set[str] = set()  # the first request sends half the file, then hangs up
        self.ranges = True  # honour Range requests
        self.requests: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/data"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        srv = self.server
        rel = urllib.parse.unquote(self.path).removeprefix("/data/")
        asked = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((rel, asked))
            drop = rel in srv.drop_once
            srv.drop_once.discard(rel)
        file = srv.root / rel
        if ".." in rel or not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        if rel in srv.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        if asked and srv.ranges:
            start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))  # type: ignore[union-attr]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server(shared_data: Path) -> Iterator[_Server]:
    srv = _Server(shared_data)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _subset(tmp_path: Path, *paths: str) -> Path:
    data = json.loads(MANIFEST.read_text())
    data["files"] = [f for f in data["files"] if f["path"] in paths]
    assert len(data["files"]) == len(paths)
    out = tmp_path / "subset.json"
    out.write_text(json.dumps(data))
    return out


# a file with spaces in its folder name, a PNG and a large-ish JPEG
SOME = (
    "isbi2012-em/train/label/3.png",
    "ki67-glioma-fields/1309620 -A2-27/original.jpg",
    "monuseg2018-train-xml/TCGA-21-5784-01Z-00-DX1.xml",
)


@pytest.mark.shared_data
@pytest.mark.slow
def test_fetches_and_verifies_every_file_then_skips_them(server, shared_data, tmp_path):
    dest = tmp_path / "data"
    command = [sys.executable, str(SCRIPT), "--dest", str(dest), "--base-url", server.url]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    entries = json.loads(MANIFEST.read_text())["files"]
    for entry in entries:
        target = dest / entry["path"]
        assert target.stat().st_size == entry["size"], entry["path"]
        assert _sha256(target) == entry["sha256"], entry["path"]
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == (
        sorted(e["path"] for e in entries)
    )  # no .part files, no archive folder left behind
    served = len(server.requests)
    assert served == len(entries)

    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"0 file(s) fetched (0.0 MB), {len(entries)} already present" in second.stdout
    assert len(server.requests) == served  # nothing was downloaded again


@pytest.mark.shared_data
def test_a_corrupted_file_is_refused_by_name_and_not_left_behind(
    server, tmp_path, capsys, shared_data
):
    bad = SOME[1]
    server.corrupt.add(bad)
    dest = tmp_path / "data"
    code = fetch_data.main(
        ["--dest", str(dest), "--base-url", server.url, "--manifest", str(_subset(tmp_path, *SOME))]
    )
    err = capsys.readouterr().err
    assert code == 1
    (line,) = [x for x in err.splitlines() if "error" in x]
    assert bad in line and "sha256 differs" in line
    target = dest / bad
    assert not target.exists()
    assert not target.with_name(target.name + ".part").exists()
    for good in (SOME[0], SOME[2]):  # the others are fetched regardless
        assert _sha256(dest / good) == _sha256(shared_data / good)


@pytest.mark.shared_data
def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path, shared_data):
    name = SOME[1]
    size = (shared_data / name).stat().st_size
    manifest = str(_subset(tmp_path, name))
    dest = tmp_path / "data"
    server.drop_once.add(name)
    argv = ["--dest", str(dest), "--base-url", server.url, "--manifest", manifest]

    # One attempt only: the run fails and keeps what arrived as .part ...
    assert fetch_data.main([*argv, "--retries", "1"]) == 1
    part = dest / (name + ".part")
    assert part.stat().st_size == size // 2
    assert not (dest / name).exists()

    # ... and the next run asks only for the rest.
    assert fetch_data.main(argv) == 0
    assert server.requests[-1] == (name, f"bytes={size // 2}-")
    assert _sha256(dest / name) == _sha256(shared_data / name)
    assert not part.exists()


@pytest.mark.shared_data
def test_a_dropped_connection_is_retried_within_the_run(server, tmp_path, shared_data):
    name = SOME[0]
    server.drop_once.add(name)
    server.ranges = False  # a server without Range support: the file starts over
    dest = tmp_path / "data"
    argv = ["--dest", str(dest), "--base-url", server.url]
    assert fetch_data.main([*argv, "--manifest", str(_subset(tmp_path, name))]) == 0
    assert [r for r, _ in server.requests] == [name, name]
    assert _sha256(dest / name) == _sha256(shared_data / name)


@pytest.mark.shared_data
def test_the_manifest_lists_every_data_file_with_its_sha256(shared_data):
    entries = {e["path"]: e for e in json.loads(MANIFEST.read_text())["files"]}
    on_disk = {
        p.relative_to(shared_data).as_posix(): p
        for p in shared_data.rglob("*")
        if p.is_file() and p.relative_to(shared_data).as_posix() != "README.md"
    }
    assert sorted(entries) == sorted(on_disk)
    for rel, path in on_disk.items():
        assert entries[rel]["size"] == path.stat().st_size, rel
        assert entries[rel]["sha256"] == _sha256(path), rel


@pytest.mark.shared_data
def test_write_manifest_reproduces_the_committed_file(shared_data, tmp_path):
    copy = tmp_path / "data_files.json"
    copy.write_text(MANIFEST.read_text())
    argv = ["--dest", str(shared_data), "--write-manifest", "--manifest", str(copy)]
    assert fetch_data.main(argv) == 0
    assert copy.read_text() == MANIFEST.read_text()


def test_every_url_is_pinned_to_a_commit_or_an_archive_hash():
    data = json.loads(MANIFEST.read_text())
    for entry in data["files"]:
        source = data["sources"][entry["path"].split("/")[0]]
        if "archive" in source:
            assert entry["url"] == source["archive"]["url"].replace(" ", "%20")
            assert entry["url"].startswith("https://files.pythonhosted.org/packages/")
            assert re.fullmatch(r"[0-9a-f]{64}", entry["archive_sha256"])
            assert entry["archive_member"]
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
            prefix = f"https://raw.githubusercontent.com/{source['repo']}/{source['commit']}/"
            assert entry["url"].startswith(prefix), entry["path"]
            assert " " not in entry["url"]
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])


def test_unsafe_manifest_paths_are_rejected():
    base = {"url": "http://x/y", "sha256": "0" * 64, "size": 1}
    for path in ("../etc/passwd", "/etc/passwd", "a/../../b"):
        with pytest.raises(ValueError, match="unsafe path"):
            fetch_data.Entry.from_dict({"path": path, **base})
