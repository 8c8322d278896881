"""Fixtures for the training tests: small prepared data sets written directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segkit.data import make_synthetic_sample
from segkit.io import sha256_file, write_image
from segkit.template import DatasetTemplate


def write_prepared(
    dst: Path,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    splits: list[str],
    template: DatasetTemplate,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
) -> Path:
    """Write a prepared data set (docs/prepared-dataset.md, layout ``separate``)."""
    pairs = []
    for k, (image, mask, part) in enumerate(zip(images, masks, splits, strict=True)):
        name = f"tile_{k:04d}"
        rel_image = f"{part}/images/{name}.png"
        rel_mask = f"{part}/masks/{name}.png"
        write_image(dst / rel_image, image)
        encoded = mask.astype(np.uint8) * (255 if template.classes.is_binary else 1)
        write_image(dst / rel_mask, encoded)
        pairs.append(
            {
                "name": name,
                "split": part,
                "group": name,
                "image": rel_image,
                "mask": rel_mask,
                "image_sha256": sha256_file(dst / rel_image),
                "mask_sha256": sha256_file(dst / rel_mask),
                "source_size": [int(image.shape[0] / scale[0]), int(image.shape[1] / scale[1])],
                "scale": list(scale),
                "tile": None,
            }
        )
    counts = {p: splits.count(p) for p in ("train", "val", "test")}
    manifest = {
        "format_version": 1,
        "segkit_version": "test",
        "created": "2026-11-27T00:00:00Z",
        "source": "/nowhere",
        "template": template.to_dict(),
        "fingerprint": "f" * 64,
        "counts": counts,
        "pairs": pairs,
        "skipped": [],
    }
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dst


def synthetic_prepared(dst: Path, n: int, size: int, splits: list[str]) -> Path:
    template = DatasetTemplate(height=size, width=size, color_model="rgb")
    samples = [make_synthetic_sample(size, size, seed=100 + k) for k in range(n)]
    images = [s.image for s in samples]
    masks = [(s.labels > 0).astype(np.uint8) for s in samples]
    return write_prepared(dst, images, masks, splits, template, scale=(0.5, 0.5))


@pytest.fixture(scope="session")
def prepared_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared binary RGB data set: 8 train, 2 val, 2 test pairs of 32x32. Read-only."""
    dst = tmp_path_factory.mktemp("prepared_small")
    return synthetic_prepared(dst, 12, 32, ["train"] * 8 + ["val"] * 2 + ["test"] * 2)
