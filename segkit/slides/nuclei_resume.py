"""Resuming a slide's nuclei: ``OUT/.NAME.nuclei/`` keeps the watershed passes done so far.

A consumer of :meth:`segkit.slides.cells.SlideNuclei.passes` (the nuclei of ``segkit predict
--instances``, the Ki-67 score of a slide) turns each pass into records (JSON: a nucleus's
outline, class, measurements) and hands them with :attr:`SlideNuclei.state` to
:meth:`NucleiProgress.save`: the records are appended to ``records.jsonl`` (flushed to disk),
the rows of the buffer still open are saved as ``kept-N.npy``, and only then is
``progress.json`` rewritten atomically with the length of ``records.jsonl`` it vouches for. A run
killed at any moment (SIGKILL included) leaves a record that is true; the next run with the
same settings truncates ``records.jsonl`` to that length, predicts again from the band that
holds the first row still open (:meth:`SlideNuclei.resume_band`) and continues with the next
pass. The outputs (GeoJSON, ``cells.csv``, the counts) are made from the records at the end,
and the folder is removed. Other settings start again, with a warning.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segkit.files import atomic_path, atomic_write_text
from segkit.slides.resume import settings_changes

__all__ = ["NucleiProgress", "NucleiState", "nuclei_folder", "saved_passes"]

VERSION = 1


def nuclei_folder(out_dir: str | Path, name: str) -> Path:
    """``OUT/.NAME.nuclei``."""
    return Path(out_dir) / f".{name}.nuclei"


@dataclass
class NucleiState:
    """Where the nuclei of a slide stand after a pass.

    Attributes
    ----------
    top : int
        Model row where the next buffer starts.
    band : int
        The next band to add (the bands before it, from the one holding ``top``, are only
        predicted again to fill the buffer).
    passes : int
        Passes done.
    predicted, skipped, cut : int
        As :class:`segkit.slides.cells.SlideNuclei` counts them, up to this pass.
    kept : (n, Wm) bool ndarray
        The buffer's rows from ``top`` on: pixels of nuclei already kept.
    """

    top: int
    band: int
    passes: int
    predicted: int
    skipped: int
    cut: int
    kept: np.ndarray

    def to_dict(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in ("top", "band", "passes", "predicted",
                                                      "skipped", "cut")}  # fmt: skip


class NucleiProgress:
    """The passes of one slide's nuclei done so far (see the module notes).

    Parameters
    ----------
    out_dir : path
        The output folder (gets ``.NAME.nuclei/`` while the nuclei are found).
    name : str
        The slide's name.
    settings : dict
        Everything the nuclei and their records depend on (JSON).
    resume : bool
        False starts again whatever was recorded.

    Attributes
    ----------
    state : NucleiState or None
        The last pass saved (None: nothing to resume).
    finished : bool
        Every pass is done; the records only wait to be written out.
    """

    def __init__(
        self, out_dir: str | Path, name: str, settings: dict[str, Any], *, resume: bool = True
    ) -> None:
        self.folder = nuclei_folder(out_dir, name)
        self.file = self.folder / "progress.json"
        self.records_path = self.folder / "records.jsonl"
        self.settings = json.loads(json.dumps(settings))
        loaded = self._load() if resume else None
        if loaded is not None and settings_changes(loaded["settings"], self.settings):
            changed = ", ".join(settings_changes(loaded["settings"], self.settings))
            warnings.warn(
                f"{self.folder} records nuclei found with other settings ({changed}); finding "
                "them again",
                stacklevel=2,
            )
            loaded = None
        self.state: NucleiState | None = None
        self.finished = False
        if loaded is None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            self._bytes = 0
            self.records_path.touch()
            self._write(None)
            return
        self._bytes = int(loaded["bytes"])
        with open(self.records_path, "r+b") as fh:
            fh.truncate(self._bytes)
        self.finished = bool(loaded["finished"])
        if loaded["state"] is not None:
            kept = np.load(self.folder / f"kept-{loaded['state']['passes']}.npy")
            self.state = NucleiState(**loaded["state"], kept=kept)

    def _load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return None
        if not self.records_path.is_file() or self.records_path.stat().st_size < data["bytes"]:
            return None
        return data

    def _write(self, state: NucleiState | None) -> None:
        data = {
            "version": VERSION,
            "settings": self.settings,
            "bytes": self._bytes,
            "finished": self.finished,
            "state": None if state is None else state.to_dict(),
        }
        atomic_write_text(self.file, json.dumps(data, indent=1, sort_keys=True) + "\n")

    def save(self, state: NucleiState, records: list[Any]) -> None:
        """Keep one pass: its records (JSON), then the state after it."""
        with open(self.records_path, "ab") as fh:
            fh.write((json.dumps(records) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
            self._bytes = fh.tell()
        with atomic_path(self.folder / f"kept-{state.passes}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(state.kept, dtype=bool))
        self._write(state)
        (self.folder / f"kept-{state.passes - 1}.npy").unlink(missing_ok=True)
        self.state = state

    def finish(self) -> None:
        """Every pass is done."""
        self.finished = True
        self._write(self.state)

    def records(self) -> Iterator[list[Any]]:
        """The records of every pass saved, one list per pass, in order."""
        with open(self.records_path, encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)

    def discard(self) -> None:
        """Remove the folder (the outputs are written)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def saved_passes(
    nuclei: Any,
    progress: NucleiProgress,
    records_of: Callable[[Any], list[Any]],
    bands: Iterable[Any] | None = None,
) -> None:
    """Run the passes of ``nuclei`` not yet in ``progress``; save each with its records.

    ``records_of`` turns a :class:`segkit.slides.cells.NucleusBand` into JSON records.
    ``bands``: the slide's bands predicted elsewhere (from
    ``nuclei.resume_band(progress.state)`` at least, e.g. a restarted
    :class:`segkit.slides.predict.SlideMaskStream`); None predicts them. When every pass was
    already done only the counts of ``nuclei`` are restored.
    """
    state = progress.state
    if progress.finished:
        if state is not None:
            nuclei.predicted, nuclei.skipped, nuclei.cut = state.predicted, state.skipped, state.cut
        return
    source = nuclei.bands(nuclei.resume_band(state)) if bands is None else bands
    for found in nuclei.passes(source, state=state):
        progress.save(nuclei.state, records_of(found))
    progress.finish()
