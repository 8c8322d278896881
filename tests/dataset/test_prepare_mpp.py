"""Microns per pixel in ``prepare``: rescaling plain tiles to the template's mpp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segkit.dataset import (
    PrepareError,
    SourceLayout,
    load_instances,
    load_manifest,
    load_pair,
    prepare_dataset,
)
from segkit.imaging import write_image
from segkit.models import ModelInfo
from segkit.synthetic import make_synthetic_sample
from segkit.template import DatasetTemplate

TEMPLATE = DatasetTemplate(height=64, width=64, fit="tile", mpp=0.5, target="instances")


def _tiles(src: Path, n: int = 2, size: int = 256) -> list[np.ndarray]:
    """MoNuSeg-like tiles at 0.25 µm/px (no scale in the files): images and uint16 labels."""
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    labels = []
    for i in range(n):
        s = make_synthetic_sample(size, size, seed=40 + i, radius=(10.0, 16.0))
        write_image(src / "images" / f"t{i}.png", s.image)
        write_image(src / "masks" / f"t{i}.png", s.labels.astype(np.uint16))
        labels.append(s.labels)
    return labels


def _areas(labels: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels.ravel())[1:]
    return counts[counts > 0]


def test_source_mpp_rescales_before_tiling(tmp_path: Path) -> None:
    src = tmp_path / "src"
    truth = _tiles(src)
    dst = tmp_path / "dst"
    prepare_dataset(src, dst, TEMPLATE, source_layout=SourceLayout(mpp=0.25), workers=1,
                    progress=False)  # fmt: skip
    m = load_manifest(dst)
    assert m.template.mpp == 0.5
    # 256 px at 0.25 µm/px = 128 px at 0.5 µm/px = 2 x 2 tiles of 64 (not 4 x 4)
    assert len(m.pairs) == 2 * 4
    assert {p.name for p in m.pairs if p.source_image == "images/t0.png"} == {
        f"t0__r{r}_c{c}" for r in range(2) for c in range(2)
    }
    for p in m.pairs:
        assert p.source_mpp == 0.25 and p.mpp == 0.5
        assert p.scale == (0.5, 0.5)
        image, mask = load_pair(m, p)
        assert image.shape == (64, 64, 3)
    # nuclei keep their physical size: a quarter of the pixels at twice the pixel size
    rows = [p for p in m.pairs if p.source_image == "images/t0.png"]
    grid = np.zeros((128, 128), dtype=np.int64)
    for p in rows:
        r, c = p.tile
        labels = load_instances(m, p)
        assert labels is not None
        grid[r * 64 : (r + 1) * 64, c * 64 : (c + 1) * 64] = labels > 0
    fg_source = float((truth[0] > 0).mean())
    assert abs(float(grid.mean()) - fg_source) < 0.02
    area_um2 = _areas(truth[0]).mean() * 0.25**2
    whole = [load_instances(m, p) for p in rows if p.tile == (0, 0)][0]
    assert whole is not None
    small = _areas(whole)
    assert abs(np.median(small) * 0.5**2 - np.median(_areas(truth[0])) * 0.25**2) < 0.25 * area_um2
    info = ModelInfo.from_manifest(m)
    assert info.mpp == 0.5 and info.scale == (1.0, 1.0)
    assert info.at_mpp(0.25).scale == (0.5, 0.5)


def test_without_source_mpp_refuses(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tiles(src, n=1)
    with pytest.raises(PrepareError, match=r"images/t0.png: no microns per pixel.*--source-mpp"):
        prepare_dataset(src, tmp_path / "dst", TEMPLATE, workers=1, progress=False)
    assert not (tmp_path / "dst").exists()


def _aperio(path: Path, labels: np.ndarray, mpp: float | None) -> None:
    """Square regions around each nucleus (pixel-centre vertices, as ImageScope writes them)."""
    from scipy import ndimage

    regions = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        r0, r1, c0, c1 = sl[0].start, sl[0].stop - 1, sl[1].start, sl[1].stop - 1
        vertices = "".join(
            f'<Vertex X="{x}" Y="{y}"/>' for x, y in ((c0, r0), (c1, r0), (c1, r1), (c0, r1))
        )
        regions.append(f'<Region Id="{k}"><Vertices>{vertices}</Vertices></Region>')
    scale = "" if mpp is None else f' MicronsPerPixel="{mpp}"'
    path.write_text(
        f'<Annotations{scale}><Annotation Id="1" Name=""><Regions>{"".join(regions)}'
        "</Regions></Annotation></Annotations>"
    )


def test_aperio_microns_per_pixel_comes_before_the_option(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    s = make_synthetic_sample(256, 256, seed=7, radius=(10.0, 16.0))
    write_image(src / "a.png", s.image)
    _aperio(src / "a.xml", s.labels, 0.25)
    write_image(src / "b.png", s.image)
    _aperio(src / "b.xml", s.labels, None)
    dst = tmp_path / "dst"
    layout = SourceLayout(layout="polygons", mpp=0.5)  # b says nothing: the option counts
    prepare_dataset(src, dst, TEMPLATE, source_layout=layout, workers=1, progress=False)
    m = load_manifest(dst)
    a = [p for p in m.pairs if p.source_image == "a.png"]
    b = [p for p in m.pairs if p.source_image == "b.png"]
    assert {p.source_mpp for p in a} == {0.25} and len(a) == 4  # 256 -> 128 px: 2 x 2 tiles
    assert {p.source_mpp for p in b} == {0.5} and len(b) == 4 * 4  # not rescaled: 4 x 4
    assert all(p.mpp == 0.5 and p.instances for p in a + b)


def test_without_template_mpp_nothing_is_rescaled(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tiles(src, n=1, size=128)
    dst = tmp_path / "dst"
    template = TEMPLATE.replace(mpp=None)
    prepare_dataset(src, dst, template, source_layout=SourceLayout(mpp=0.25), workers=1,
                    progress=False)  # fmt: skip
    m = load_manifest(dst)
    assert len(m.pairs) == 4 and all(p.source_mpp == 0.25 and p.mpp == 0.25 for p in m.pairs)
    assert "mpp" not in m.to_dict()["template"]
    assert ModelInfo.from_manifest(m).mpp is None


def test_inspect_reports_the_source_mpp(tmp_path: Path) -> None:
    from segkit.dataset import inspect_dataset

    src = tmp_path / "src"
    _tiles(src, n=1, size=64)
    report = inspect_dataset(src, SourceLayout(mpp=0.25), workers=1)
    assert [p["mpp"] for p in report.pairs] == [0.25]
