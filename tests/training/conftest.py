"""Fixtures for the training tests: small prepared data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from segkit.dataset import prepare_dataset
from segkit.synthetic import make_synthetic_dataset
from segkit.template import DatasetTemplate


@pytest.fixture(scope="session")
def prepared_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic 64x64 RGB pairs prepared to 32x32 (scale 0.5), about 8/2/2 train/val/test."""
    root = tmp_path_factory.mktemp("prepared_small")
    source = make_synthetic_dataset(root / "source", 12, height=64, width=64, seed=1)
    template = DatasetTemplate(
        height=32, width=32, split={"train": 0.6, "val": 0.2, "test": 0.2, "seed": 0}
    )
    prepare_dataset(source, root / "prepared", template, progress=False, workers=1)
    return root / "prepared"


@pytest.fixture(scope="session")
def prepared_instances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic 64x64 RGB pairs with instance labels prepared to 32x32, ``target="instances"``."""
    root = tmp_path_factory.mktemp("prepared_instances")
    source = make_synthetic_dataset(
        root / "source", 8, height=64, width=64, seed=2, mask_encoding="instance"
    )
    template = DatasetTemplate(
        height=32,
        width=32,
        target="instances",
        split={"train": 0.75, "val": 0.25, "test": 0.0, "seed": 0},
    )
    prepare_dataset(source, root / "prepared", template, progress=False, workers=1)
    return root / "prepared"
