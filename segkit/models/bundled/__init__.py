"""Models shipped inside the package, addressed as ``segkit:NAME`` wherever a model is accepted.

Each is a folder ``segkit/models/bundled/NAME/`` with ``model.keras``, ``model.json`` and a
``MODEL_CARD.md`` (training data and their licences, recipe, scores, limits). They load with
plain ``keras.models.load_model`` like every segkit model, and nothing is downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["PREFIX", "bundled_models", "bundled_model_path", "is_bundled_name"]

PREFIX = "segkit:"


def _root() -> Path:
    return Path(str(resources.files("segkit.models.bundled")))


def bundled_models() -> tuple[str, ...]:
    """The names of the bundled models in this installation (e.g. ``("nuclei",)``)."""
    return tuple(sorted(p.name for p in _root().iterdir() if (p / "model.keras").is_file()))


def is_bundled_name(name: object) -> bool:
    """Whether ``name`` is a string of the form ``segkit:NAME``."""
    return isinstance(name, str) and name.startswith(PREFIX)


def bundled_model_path(name: str) -> Path:
    """The folder of the bundled model ``segkit:NAME`` (or ``NAME``).

    Raises
    ------
    FileNotFoundError
        When this installation has no such model; the message lists those it has.
    """
    short = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    folder = _root() / short
    if not short or "/" in short or not (folder / "model.keras").is_file():
        have = ", ".join(PREFIX + n for n in bundled_models()) or "none"
        raise FileNotFoundError(f"{name}: no bundled model of that name (bundled: {have})")
    return folder
