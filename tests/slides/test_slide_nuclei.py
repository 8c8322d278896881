"""Nuclei of a whole slide streamed in bands: each exactly once, none cut at a seam."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")
keras = require_module("keras", "the cpu extra: pip install -e '.[cpu]'")

from segkit.models.saving import ModelInfo  # noqa: E402
from segkit.slides import ArraySlide, make_synthetic_slide, open_slide  # noqa: E402
from segkit.slides.cells import NucleusBand, SlideNuclei, default_margin  # noqa: E402

RADIUS = 7


def _dark_model() -> keras.Model:
    """Foreground where the pixel is dark: a clean probability map whatever the tiling."""
    inputs = keras.Input((None, None, 3))
    grey = keras.ops.mean(inputs, axis=-1, keepdims=True)
    fg = keras.ops.sigmoid((200.0 - grey) / 8.0)
    return keras.Model(inputs, keras.ops.concatenate([1.0 - fg, fg], axis=-1))


def _info() -> ModelInfo:
    return ModelInfo((128, 128, 3), class_names=("background", "nucleus"), mpp=0.5)


def _discs(height: int, width: int, step: int = 23) -> tuple[np.ndarray, np.ndarray]:
    """Discs on a grid whose rows fall on every band seam in turn; returns image, centres."""
    image = np.full((height, width, 3), 235, np.uint8)
    yy, xx = np.mgrid[:height, :width]
    centres = []
    for r in range(12, height - 12, step):
        for c in range(12 + (r // step) % 3 * 5, width - 12, step):
            image[(yy - r) ** 2 + (xx - c) ** 2 <= RADIUS**2] = (60, 60, 140)
            centres.append((r, c))
    return image, np.array(centres, dtype=float)


def _stream(slide: ArraySlide, **options) -> tuple[SlideNuclei, list[tuple[float, float, int]]]:
    nuclei = SlideNuclei(_dark_model(), slide, info=_info(), tile_size=128, **options)
    found = []
    for band in nuclei:
        labels = band.kept_labels()
        for k in band.ids:
            rr, cc = np.nonzero(labels == k)
            found.append((rr.mean() + band.top, cc.mean(), len(rr)))
    return nuclei, found


@pytest.mark.parametrize("margin", [20, None])
def test_every_nucleus_on_a_band_seam_is_found_once_and_whole(margin: int | None) -> None:
    image, centres = _discs(900, 260)
    slide = ArraySlide(image, mpp=(0.5, 0.5), levels=1, name="discs.svs")
    nuclei, found = _stream(slide, margin=margin)
    assert len(nuclei.plan.rows) > 8  # many band seams
    got = np.array([(r, c) for r, c, _ in found])
    assert len(got) == len(centres)
    distance = np.linalg.norm(got[:, None] - centres[None], axis=-1)
    assert np.all(distance.min(axis=1) < 0.5)  # each found one is a disc...
    assert len(set(distance.argmin(axis=1).tolist())) == len(centres)  # ...each disc once
    disc_area = np.count_nonzero(np.hypot(*np.mgrid[-8:9, -8:9]) <= RADIUS)
    assert {a for _, _, a in found} == {disc_area}  # none cut at a seam
    assert nuclei.cut == 0


def test_the_stream_matches_the_whole_image_watershed(tmp_path: Path) -> None:
    from segkit.instances import predict_instance_map

    made = make_synthetic_slide(
        tmp_path / "s.ome.tif", size=(1400, 1100), tissue_fraction=0.4, mpp=0.5, tile=256,
        levels=2, seed=2, compression="zlib",
    )  # fmt: skip
    slide = open_slide(made.path)
    try:
        nuclei, found = _stream(slide)
        whole = slide.read_region((0, 0), made.size)
    finally:
        slide.close()
    labels = predict_instance_map(_dark_model(), whole, info=_info(), tile_size=128).labels
    ids = np.unique(labels[labels > 0])
    rr, cc = np.mgrid[: labels.shape[0], : labels.shape[1]]
    from scipy import ndimage

    ref = np.stack([ndimage.mean(rr, labels, ids), ndimage.mean(cc, labels, ids)], axis=-1)
    area = ndimage.sum_labels(np.ones_like(labels), labels, ids)
    got = np.array([(r, c) for r, c, _ in found])
    assert abs(len(got) - len(ref)) <= max(2, 0.01 * len(ref))
    nearest = np.linalg.norm(got[:, None] - ref[None], axis=-1)
    match = nearest.argmin(axis=1)
    close = nearest.min(axis=1) < 1.5
    assert close.mean() > 0.98
    assert len(set(match[close].tolist())) == close.sum()  # never two for one
    areas = np.array([a for _, _, a in found])[close]
    assert np.median(np.abs(areas - area[match[close]]) / area[match[close]]) < 0.02
    truth = sum(len(np.unique(made.cell_truth(c, r)[0])) - 1 for c, r in made.tissue_cells())
    assert abs(len(got) - truth) < 0.1 * truth  # truth cuts nuclei at its texture cells


def test_memory_does_not_grow_with_the_slide_height() -> None:
    sizes = {}
    for height in (600, 2400):
        image, _ = _discs(height, 300, step=31)
        slide = ArraySlide(image, mpp=(0.5, 0.5), levels=1, name="tall.svs")
        nuclei, found = _stream(slide)
        sizes[height] = (nuclei.band_bytes, nuclei.peak_buffer_bytes, len(found))
    (band, peak, few), (band4, peak4, many) = sizes[600], sizes[2400]
    assert many > 3.5 * few
    assert band4 == band and peak4 == peak
    slide_bytes = 2400 * 300 * 3 * 4  # a slide-sized float32 map of three channels
    assert band + peak < slide_bytes / 3


def test_glass_only_gives_no_nuclei_and_the_margin_scales() -> None:
    slide = ArraySlide(np.full((500, 400, 3), 250, np.uint8), mpp=(0.5, 0.5), levels=1)
    nuclei, found = _stream(slide)
    assert found == [] and nuclei.predicted == 0
    assert default_margin(0.5) == 48 and default_margin(0.25) == 96 and default_margin(None) == 48
    with pytest.raises(ValueError, match="margin"):
        SlideNuclei(_dark_model(), slide, info=_info(), margin=0)


def test_a_band_reads_its_own_pixels() -> None:
    image, _ = _discs(400, 200)
    slide = ArraySlide(image, mpp=(0.5, 0.5), levels=1)
    nuclei = SlideNuclei(_dark_model(), slide, info=_info(), tile_size=128, margin=20)
    band = next(iter(nuclei))
    assert isinstance(band, NucleusBand)
    pixels = band.image(slide)
    assert pixels.shape[:2] == band.labels.shape
    np.testing.assert_array_equal(pixels, image[band.top : band.top + len(band.labels)])


def test_predict_instances_streams_a_slides_nuclei_as_detections(tmp_path: Path, capsys) -> None:
    import json

    from segkit.cli import main
    from segkit.models import save_model

    made = make_synthetic_slide(
        tmp_path / "case.ome.tif", size=(1200, 900), tissue_fraction=0.4, mpp=0.5, tile=256,
        levels=2, seed=6, compression="zlib",
    )  # fmt: skip
    save_model(_dark_model(), tmp_path / "m", _info())
    out = tmp_path / "out"
    code = main(["predict", str(tmp_path / "m"), str(made.path), "-o", str(out), "--instances",
                 "--tile-size", "128"])  # fmt: skip
    assert code == 0
    assert "case.geojson" in capsys.readouterr().out
    assert (out / "case.ome.tif").is_file()
    features = json.loads((out / "case.geojson").read_text())["features"]
    slide = open_slide(made.path)
    try:
        _, found = _stream(slide)
    finally:
        slide.close()
    assert len(features) == len(found) > 50
    for feature in features:
        assert feature["properties"]["objectType"] == "detection"
        assert feature["properties"]["classification"]["name"] == "nucleus"
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4


def test_the_watershed_in_pieces_across_the_width_is_the_whole_one(monkeypatch) -> None:
    import segkit.slides.cells as cells
    from segkit.slides.cells import column_chunks

    occupied = np.ones(100, dtype=bool)
    occupied[[10, 30, 31, 70]] = False
    assert column_chunks(occupied, 20) == [slice(0, 31), slice(30, 71), slice(70, 100)]
    assert column_chunks(np.ones(50, dtype=bool), 20) == [slice(0, 50)]
    image = np.full((300, 700, 3), 235, np.uint8)
    yy, xx = np.mgrid[:300, :700]
    for r in range(15, 290, 27):
        for c in range(12, 680, 37):  # touching pairs, which the distance watershed splits
            for dc in (0, 12):
                image[(yy - r) ** 2 + (xx - c - dc) ** 2 <= RADIUS**2] = (60, 60, 140)
    occupied = (image.mean(axis=2) < 200).any(axis=0)
    assert len(column_chunks(occupied, 40)) > 10
    slide = ArraySlide(image, mpp=(0.5, 0.5), levels=1)
    _, whole = _stream(slide, margin=24)
    monkeypatch.setattr(cells, "CHUNK", 40)
    monkeypatch.setattr(cells.column_chunks, "__defaults__", (40,))
    _, pieces = _stream(slide, margin=24)
    assert len(pieces) == len(whole) == 2 * 11 * 19
    a, b = np.array(sorted(pieces)), np.array(sorted(whole))
    np.testing.assert_allclose(a[:, :2], b[:, :2], atol=1.0)  # ties on a split line may
    assert a[:, 2].sum() == b[:, 2].sum()  # go either way (the watershed's raster order)
    dense, _ = _discs(300, 700, step=19)  # no column free of nuclei: overlapping windows
    assert len(column_chunks((dense.mean(axis=2) < 200).any(axis=0), 40)) <= 2
    slide = ArraySlide(dense, mpp=(0.5, 0.5), levels=1)
    _, pieces = _stream(slide, margin=24)
    monkeypatch.setattr(cells, "CHUNK", 100_000)
    _, whole = _stream(slide, margin=24)
    assert len(pieces) == len(whole) > 300
    a, b = np.array(sorted(pieces)), np.array(sorted(whole))
    np.testing.assert_allclose(a[:, :2], b[:, :2], atol=1.0)  # ties on a split line may
    assert a[:, 2].sum() == b[:, 2].sum()  # go either way (the watershed's raster order)
