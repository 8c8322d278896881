"""How much watershed splitting alone gains on MoNuSeg's ground-truth binary masks.

True instances come from the organisers' polygons (13 images); the binary masks of the same
images are split into instances by connected components (the baseline) and by the
distance-transform watershed, and both are scored against the polygons.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from segkit.evaluation import aggregated_jaccard_index, f1_at_iou, panoptic_quality
from segkit.instances import connected_components, labels_from_mask


def _rasterise_polygons(xml: Path, shape: tuple[int, int]) -> np.ndarray:
    """Instance labels of an ImageScope XML: one id per Region, later regions on top."""
    from PIL import Image, ImageDraw

    canvas = Image.new("I", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for k, region in enumerate(ET.parse(xml).getroot().iter("Region"), start=1):
        points = [(float(v.get("X", 0)), float(v.get("Y", 0))) for v in region.iter("Vertex")]
        if len(points) >= 3:
            draw.polygon(points, fill=k)
    return np.asarray(canvas, dtype=np.int32)


def _scores(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    return (
        aggregated_jaccard_index(truth, labels),
        panoptic_quality(truth, labels)["pq"],
        f1_at_iou(truth, labels)["f1"],
    )


@pytest.mark.slow
@pytest.mark.shared_data
def test_watershed_splits_touching_nuclei_of_monuseg_binary_masks(shared_data):
    from PIL import Image

    xmls = sorted((shared_data / "monuseg2018-train-xml").glob("*.xml"))
    assert len(xmls) == 13
    naive, split = [], []
    for xml in xmls:
        png = shared_data / "monuseg2018-train" / "Binary_masks" / f"{xml.stem}.png"
        mask = np.asarray(Image.open(png)) > 0
        truth = _rasterise_polygons(xml, mask.shape)
        assert ((truth > 0) == mask).mean() > 0.95, f"{xml.stem}: polygons and mask disagree"
        naive.append(_scores(truth, connected_components(mask)))
        split.append(_scores(truth, labels_from_mask(mask)))
    cc, ws = np.mean(naive, axis=0), np.mean(split, axis=0)
    print("\nMoNuSeg, 13 images  AJI    PQ     F1@0.5")
    for name, (aji, pq, f1) in (("connected comp.", cc), ("watershed", ws)):
        print(f"{name:<18}{aji:.3f}  {pq:.3f}  {f1:.3f}")
    # measured: components 0.631 / 0.734 / 0.852, watershed (h = 2) 0.784 / 0.758 / 0.877
    assert ws[0] > cc[0] + 0.1
    assert ws[1] > cc[1] and ws[2] > cc[2]
