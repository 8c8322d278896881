"""One writer per destination: a second prepare refuses at once and changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import REPO_ROOT

from segkit.dataset import PrepareError, prepare_dataset
from segkit.dataset.transaction import FolderBusyError, FolderTransaction, lock_path
from segkit.dataset.verify import verify_dataset
from segkit.template import DatasetTemplate, save_template

T32 = DatasetTemplate(height=32, width=32)

HOLD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from segkit.dataset.transaction import FolderTransaction
    with FolderTransaction(Path(sys.argv[1])):
        print("locked", flush=True)
        sys.stdin.read()
    """
)


def prep(src: Path, dst: Path, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("progress", False)
    return prepare_dataset(src, dst, T32, **kw)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT))


def hold_lock(dst: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(dst)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def hidden_beside(dst: Path) -> list[str]:
    return sorted(p.name for p in dst.parent.iterdir() if p.name.startswith("."))


def test_second_prepare_refuses_while_the_first_holds_the_lock(
    separate_source: Path, tmp_path: Path, digest_tree
) -> None:
    dst = tmp_path / "dst"
    prep(separate_source, dst)
    before = digest_tree(dst)
    holder = hold_lock(dst)
    try:
        assert lock_path(dst).read_text().strip() == str(holder.pid)
        for overwrite in (False, True):
            with pytest.raises(PrepareError) as err:
                prep(separate_source, dst, overwrite=overwrite)
            assert str(err.value) == f"{dst} is being prepared by PID {holder.pid}"
            assert digest_tree(dst) == before
        with pytest.raises(FolderBusyError), FolderTransaction(dst):
            pass
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert hidden_beside(dst) == []  # the holder removed its lock file
    assert prep(separate_source, dst, overwrite=True).reused == 8


def test_a_killed_holder_releases_the_lock(separate_source: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    holder = hold_lock(dst)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert lock_path(dst).exists()  # left behind, but no longer locked
    report = prep(separate_source, dst)
    assert len(report.manifest.pairs) == 8
    assert hidden_beside(dst) == []


def test_concurrent_prepares_never_race(tmp_path: Path, write_pair) -> None:
    src = tmp_path / "src"
    for i in range(40):
        write_pair(src / "images" / f"s{i:02d}.png", src / "masks" / f"s{i:02d}.png", i)
    template = tmp_path / "t.json"
    save_template(T32, template)
    dst = tmp_path / "dst"
    argv = [sys.executable, "-m", "segkit", "prepare", str(src), str(dst), "-t", str(template),
            "--overwrite", "--no-progress", "--workers", "1"]  # fmt: skip
    for _ in range(3):
        procs = [
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
            )  # fmt: skip
            for _ in range(2)
        ]
        results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
        assert any(rc == 0 for rc, _ in results), results
        for rc, err in results:
            assert "Traceback" not in err
            if rc != 0:
                lines = err.strip().splitlines()
                assert len(lines) == 1 and f"{dst} is being prepared by PID" in lines[0], err
        assert verify_dataset(dst).ok
        assert hidden_beside(dst) == []
