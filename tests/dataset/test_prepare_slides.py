"""Layout ``slides``: tiles cut from annotated whole slides at the template's mpp."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import require_module

from segkit.annotations import Annotation, Polygon, write_qupath_geojson
from segkit.dataset import discover_pairs, load_instances, load_manifest, load_pair, prepare_dataset
from segkit.ki67.outlines import nucleus_outlines
from segkit.models import ModelInfo
from segkit.slides import make_synthetic_slide, open_slide
from segkit.template import DatasetTemplate

require_module("zarr", "the slides extra: pip install -e '.[slides]'")

CELL = 256  # the synthetic slide's texture cell = one tile's footprint at 0.5 µm/px
TEMPLATE = DatasetTemplate(
    height=128, width=128, fit="tile", mpp=0.5, target="instances",
    split={"train": 0.5, "val": 0.5, "test": 0.0, "seed": 1},
)  # fmt: skip


def _rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon(np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=float))


def _annotated_slide(path: Path, kind: str, seed: int) -> tuple:
    truth = make_synthetic_slide(path, size=(2048, 1536), tissue_fraction=0.5, mpp=0.25,
                                 kind=kind, tile=CELL, levels=3, seed=seed,
                                 compression="zlib")  # fmt: skip
    cells = truth.tissue_cells()
    full = [
        (c, r)
        for c, r in cells
        if truth.tissue_mask(1, location=(c * CELL, r * CELL), size=(CELL, CELL)).all()
    ]
    chosen = [full[0], full[-1]]
    rois = [Annotation(_rect(c * CELL, r * CELL, (c + 1) * CELL, (r + 1) * CELL),
                       object_type="annotation") for c, r in chosen]  # fmt: skip
    # a third region covers a quarter of a cell: under half of that tile, so it is not cut
    c, r = full[len(full) // 2]
    rois.append(Annotation(_rect(c * CELL, r * CELL, c * CELL + 128, r * CELL + 128)))
    nuclei = []
    for col, row in chosen + [(c, r)]:
        labels, _ = truth.cell_truth(col, row)
        for outline in nucleus_outlines(labels).values():
            ring = np.asarray(outline, dtype=float) + (col * CELL, row * CELL)
            nuclei.append(Annotation(Polygon(ring), object_type="detection"))
    stem = path.name.split(".")[0]
    features = []
    for part, kind_ in ((rois, "annotation"), (nuclei, "detection")):
        tmp = path.parent / f".{stem}.{kind_}.json"
        write_qupath_geojson(tmp, part, object_type=kind_)
        features += json.loads(tmp.read_text())["features"]
        tmp.unlink()
    geojson = {"type": "FeatureCollection", "features": features}
    (path.parent / f"{stem}.geojson").write_text(json.dumps(geojson))
    return truth, chosen


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    src = tmp_path_factory.mktemp("slides_src")
    one = _annotated_slide(src / "one.ome.tif", "ome", seed=1)
    two = _annotated_slide(src / "two.tif", "tiff", seed=2)
    dst = src.parent / (src.name + "_dst")
    report = prepare_dataset(src, dst, TEMPLATE, workers=2, progress=False)
    return src, dst, report, {"one": one, "two": two}


def test_discovered_as_slides(prepared: tuple) -> None:
    src = prepared[0]
    found = discover_pairs(src)
    assert found.layout == "slides"
    assert {(p.name, p.image, p.annotations) for p in found.pairs} == {
        ("one", "one.ome.tif", "one.geojson"),
        ("two", "two.tif", "two.geojson"),
    }


def test_inspect_reads_slides_from_their_headers(prepared: tuple) -> None:
    from segkit.dataset import inspect_dataset

    report = inspect_dataset(prepared[0], workers=1)
    assert report.layout == "slides" and report.n_pairs == 2
    assert {p["name"]: (p["image_size"], p["mpp"]) for p in report.pairs} == {
        "one": ([1536, 2048], 0.25),
        "two": ([1536, 2048], 0.25),
    }


def test_tiles_only_inside_the_regions(prepared: tuple) -> None:
    _, dst, report, slides = prepared
    m = load_manifest(dst)
    assert report.layout == "slides" and not report.skipped
    for stem, (_, chosen) in slides.items():
        names = {p.name for p in m.pairs if p.group == stem}
        # cell (c, r) of 256 level-0 px at 0.25 µm/px is tile (r, c) at 0.5 µm/px
        assert names == {f"{stem}__x{c * CELL}_y{r * CELL}" for c, r in chosen}


def test_masks_and_instances_match_the_truth(prepared: tuple) -> None:
    src, dst, _, slides = prepared
    m = load_manifest(dst)
    for stem, (truth, _) in slides.items():
        with open_slide(truth.path) as slide:
            for p in (p for p in m.pairs if p.group == stem):
                x, y = (int(v[1:]) for v in p.name.rsplit("__", 1)[1].split("_"))
                image, mask = load_pair(m, p)
                assert image.shape == (128, 128, 3)
                # level 1 of the slide is 0.5 µm/px: the tile is read from it, not shrunk
                assert np.array_equal(
                    image, slide.read_region((x // 2, y // 2), (128, 128), level=1)
                )
                labels, _ = truth.cell_truth(x // CELL, y // CELL)
                want = labels[::2, ::2] > 0  # the truth at 0.5 µm/px
                dice = 2 * (mask.astype(bool) & want).sum() / (mask.sum() + want.sum())
                assert dice > 0.9
                ids = load_instances(m, p)
                assert ids is not None and ids.shape == (128, 128)
                n_truth = len(np.unique(labels[::2, ::2])) - 1
                assert abs(len(np.unique(ids)) - 1 - n_truth) <= max(2, n_truth // 10)


def test_a_slide_never_spans_two_parts_and_mpp_is_recorded(prepared: tuple) -> None:
    _, dst, _, _ = prepared
    m = load_manifest(dst)
    for stem in ("one", "two"):
        pairs = [p for p in m.pairs if p.source_annotations == f"{stem}.geojson"]
        assert pairs and {p.group for p in pairs} == {stem} and len({p.split for p in pairs}) == 1
        assert all(p.source_mpp == 0.25 and p.mpp == 0.5 and p.scale == (0.5, 0.5) for p in pairs)
    assert m.template.mpp == 0.5
    assert json.loads((dst / "manifest.json").read_text())["template"]["mpp"] == 0.5
    assert ModelInfo.from_manifest(m).mpp == 0.5


def test_prepared_again_reuses_every_tile(prepared: tuple) -> None:
    src, dst, _, _ = prepared
    again = prepare_dataset(src, dst, TEMPLATE, workers=1, progress=False)
    assert again.up_to_date and again.reused == 2


def test_a_slide_without_mpp_is_refused(tmp_path: Path) -> None:
    from segkit.dataset import PrepareError, SourceLayout

    src = tmp_path / "src"
    src.mkdir()
    make_synthetic_slide(src / "n.ome.tif", size=(1024, 1024), mpp=None, tile=CELL, levels=2,
                         compression="zlib")  # fmt: skip
    roi = Annotation(_rect(0, 0, 512, 512))
    write_qupath_geojson(src / "n.geojson", [roi], object_type="annotation")
    semantic = TEMPLATE.replace(target="semantic")
    with pytest.raises(PrepareError, match="n.ome.tif: no microns per pixel"):
        prepare_dataset(src, tmp_path / "dst", semantic, workers=1, progress=False)
    layout = SourceLayout(mpp=0.25)  # the option: 4 tiles of 256 level-0 px in the region
    prepare_dataset(src, tmp_path / "dst", semantic, source_layout=layout, workers=1,
                    progress=False)  # fmt: skip
    m = load_manifest(tmp_path / "dst")
    assert sorted(p.name for p in m.pairs) == [f"n__x{x}_y{y}" for x in (0, 256) for y in (0, 256)]


def test_an_unchanged_slide_is_not_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from segkit.dataset import slide_tiles

    src = tmp_path / "src"
    src.mkdir()
    _annotated_slide(src / "one.ome.tif", "ome", seed=3)
    dst = tmp_path / "dst"
    prepare_dataset(src, dst, TEMPLATE, workers=1, progress=False)
    assert all(p.source_stat for p in load_manifest(dst).pairs)
    read: list[str] = []
    real = slide_tiles._sha256
    monkeypatch.setattr(slide_tiles, "_sha256", lambda p: read.append(p.name) or real(p))
    assert prepare_dataset(src, dst, TEMPLATE, workers=1, progress=False).up_to_date
    assert read == ["one.geojson"]  # the slide's hash came from its unchanged stat
    # touched, not changed: hashed once more, the tiles reused, the new stat written
    st = os.stat(src / "one.ome.tif")
    os.utime(src / "one.ome.tif", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    read.clear()
    again = prepare_dataset(src, dst, TEMPLATE, workers=1, progress=False)
    assert "one.ome.tif" in read and again.encoded == 0 and again.reused == 1
    read.clear()
    assert prepare_dataset(src, dst, TEMPLATE, workers=1, progress=False).up_to_date
    assert read == ["one.geojson"]
    # changed bytes of the same size and mtime still change the ctime: hashed, re-encoded
    with open(src / "one.ome.tif", "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    os.utime(src / "one.ome.tif", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    read.clear()
    with pytest.raises(FileExistsError, match="source has changed"):
        prepare_dataset(src, dst, TEMPLATE, workers=1, progress=False)
    assert "one.ome.tif" in read
