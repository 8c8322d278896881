"""The record of a slide prediction in progress: ``OUT/.NAME.slide-progress.json``.

After every row of mask tiles is stored (:class:`segkit.slides.writer.PyramidMaskWriter`), the
record is rewritten atomically with the bands whose mask rows are all stored, so a run killed
at any moment (SIGKILL included) leaves a record that is true. A re-run with the same settings
continues from the first band not done; one with other settings (another model, tile,
level, tissue mask ...) is refused, since the halves would not match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segkit.files import atomic_write_text

__all__ = ["SlideProgress", "array_digest", "model_digest", "progress_path", "settings_changes"]

VERSION = 1


def progress_path(out_dir: Path, name: str) -> Path:
    """``OUT/.NAME.slide-progress.json``."""
    return Path(out_dir) / f".{name}.slide-progress.json"


def model_digest(model: Any) -> str:
    """SHA-256 of a model's weights (their shapes, dtypes and bytes), 16 hex digits; of the
    file for a model that has only a file (an ONNX model's ``file_digest``)."""
    file_digest = getattr(model, "file_digest", None)
    if callable(file_digest):
        return str(file_digest())
    h = hashlib.sha256()
    for w in model.get_weights():
        arr = np.ascontiguousarray(w)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def array_digest(arr: np.ndarray) -> str:
    """SHA-256 of an array's shape, dtype and bytes, 16 hex digits."""
    a = np.ascontiguousarray(arr)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()[:16]


@dataclass
class SlideProgress:
    """How far the prediction of one slide got.

    Attributes
    ----------
    settings : dict
        Everything the mask depends on (slide, model weights, level, scale, windows, tissue).
    store : str
        The writer's zarr folder, relative to the output folder.
    bands_done : int
        Bands (rows of windows) whose mask rows are all stored.
    rows_done : int
        Level-0 mask rows stored.
    predicted, skipped : int
        Windows predicted and skipped as glass in the bands done.
    finished : bool
        The OME-TIFF is written.
    band_bytes : int
        The most memory the band buffer held.
    """

    settings: dict[str, Any]
    store: str
    bands_done: int = 0
    rows_done: int = 0
    predicted: int = 0
    skipped: int = 0
    finished: bool = False
    band_bytes: int = 0
    version: int = field(default=VERSION)

    def save(self, path: Path) -> None:
        """Write the record atomically."""
        atomic_write_text(path, json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> SlideProgress | None:
        """The record at ``path``, or None when there is none."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"{path}: unreadable progress record ({exc}); remove it to predict again"
            ) from exc
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"{path}: not a version-{VERSION} progress record; remove it")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def settings_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of the settings that differ between two records (JSON round trip applied)."""
    new = json.loads(json.dumps(new))
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
