"""Reading source data sets and preparing them to a template.

- :func:`load_manifest`, :func:`load_pair`: read a prepared data set.
"""

from segkit.dataset.manifest import (
    Manifest,
    ManifestError,
    PairRecord,
    SkippedFile,
    compute_fingerprint,
    load_manifest,
    load_pair,
)

__all__ = [
    "Manifest",
    "ManifestError",
    "PairRecord",
    "SkippedFile",
    "compute_fingerprint",
    "load_manifest",
    "load_pair",
]
