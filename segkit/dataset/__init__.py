"""Reading source data sets and adapting them to a template.

- :func:`discover_pairs`: find image/mask pairs in any supported layout.
- :func:`inspect_dataset`: report on a source data set (pairs, problems, mask values).
- :func:`prepare_dataset`: write the prepared data set (``segkit prepare``).
- :func:`load_manifest`, :func:`load_pair` (and :func:`load_image`, :func:`load_instances`,
  :func:`load_points`): read a prepared data set.
- :func:`require_trainable`: refuse a data set of points without masks (before training).
"""

from segkit.dataset.discover import Discovery, SourceLayout, SourcePair, discover_pairs
from segkit.dataset.inspect import InspectReport, inspect_dataset
from segkit.dataset.manifest import (
    Manifest,
    ManifestError,
    PairRecord,
    SkippedFile,
    compute_fingerprint,
    load_manifest,
)
from segkit.dataset.pairs import load_image, load_instances, load_pair, load_points
from segkit.dataset.prepare import PrepareError, PrepareReport, prepare_dataset
from segkit.dataset.verify import require_trainable

__all__ = [
    "Discovery",
    "InspectReport",
    "Manifest",
    "ManifestError",
    "PairRecord",
    "PrepareError",
    "PrepareReport",
    "SkippedFile",
    "SourceLayout",
    "SourcePair",
    "compute_fingerprint",
    "discover_pairs",
    "inspect_dataset",
    "load_manifest",
    "load_image",
    "load_instances",
    "load_pair",
    "load_points",
    "prepare_dataset",
    "require_trainable",
]
