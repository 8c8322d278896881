"""Real data: a few epochs on ISBI 2012 (membranes) must beat trivial masks on held-out images."""

from __future__ import annotations

import numpy as np
import pytest
from support import require_module

require_module("keras", "the cpu or gpu extra: pip install -e '.[cpu]'")


def _dice(truth: np.ndarray, pred: np.ndarray) -> float:
    t, p = truth.astype(bool), pred.astype(bool)
    total = t.sum() + p.sum()
    return 1.0 if total == 0 else float(2 * (t & p).sum() / total)


@pytest.mark.slow
@pytest.mark.shared_data
def test_isbi_unet_beats_trivial_baselines(shared_data, tmp_path):
    from segkit.dataset import load_manifest, load_pair, prepare_dataset
    from segkit.imaging import threshold_otsu
    from segkit.template import DatasetTemplate
    from segkit.training import TrainConfig, train

    source = shared_data / "isbi2012-em" / "train"
    template = DatasetTemplate(
        height=128,
        width=128,
        color_model="grayscale",
        fit="tile",  # full resolution: 512x512 slices cut into 16 tiles each
        classes={"names": ["background", "membrane"], "mapping": {"0": 1}},
        split={"train": 0.75, "val": 0.05, "test": 0.2, "seed": 0},
    )
    prepared = tmp_path / "isbi"
    prepare_dataset(source, prepared, template, progress=False)
    manifest = load_manifest(prepared)
    test_pairs = manifest.split("test")
    assert len({p.group for p in test_pairs}) >= 3  # whole held-out slices
    assert not {p.group for p in test_pairs} & {p.group for p in manifest.split("train")}

    config = TrainConfig(
        epochs=5, batch_size=8, steps_per_epoch=28, depth=3, base_filters=8,
        learning_rate=0.002, patience=0, sample_figures=2, seed=0,
    )  # fmt: skip
    run = train(prepared, config, runs_dir=tmp_path / "runs", run_id="isbi")

    from segkit.models import load_model

    model, info = load_model(run.path)
    unet, otsu, full = [], [], []
    for pair in test_pairs:
        image, mask = load_pair(manifest, pair)
        proba = model.predict(image[None].astype(np.float32), verbose=0)[0, ..., 0]
        unet.append(_dice(mask, proba > info.threshold))
        otsu.append(_dice(mask, image[..., 0] <= threshold_otsu(image[..., 0])))  # dark = membrane
        full.append(_dice(mask, np.ones_like(mask)))
    unet_dice, baseline = float(np.mean(unet)), max(np.mean(otsu), np.mean(full))
    print(
        f"ISBI test Dice: U-Net {unet_dice:.3f}, Otsu {np.mean(otsu):.3f}, all {np.mean(full):.3f}"
    )
    assert unet_dice > baseline + 0.08
    assert run.metrics["test"]["dice"] == pytest.approx(unet_dice, abs=0.02)
