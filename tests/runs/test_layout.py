"""The names of a run folder."""

from __future__ import annotations

import fnmatch
import re

from segkit.runs import layout, new_run_id


def test_new_run_ids_sort_by_time_and_differ():
    ids = {new_run_id("config", "fingerprint") for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", new_run_id())


def test_checkpoint_and_worker_names():
    assert layout.last_checkpoint(7) == "last-0007.keras"
    assert fnmatch.fnmatch(layout.last_checkpoint(12345), layout.LAST_CHECKPOINTS)
    assert layout.worker_dir(2) == "workers/worker-2"
    assert layout.CONFIG in layout.RECORDS and layout.HISTORY in layout.RECORDS
