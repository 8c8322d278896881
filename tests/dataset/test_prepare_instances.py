"""Prepare keeps instance labels (per-object masks, label masks, polygons) and points, in
every fit mode, on small synthetic sources written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from segkit.dataset import SourceLayout, load_pair, prepare_dataset, require_trainable
from segkit.dataset.manifest import ManifestError
from segkit.dataset.pairs import load_instances, load_points
from segkit.dataset.targets import NO_INSTANCES, relabel
from segkit.dataset.verify import VerifyError, verify_dataset
from segkit.imaging import resize_mask, write_image
from segkit.synthetic import make_synthetic_sample
from segkit.template import DatasetTemplate

SIZE = (48, 64)


def template(**kw: Any) -> DatasetTemplate:
    return DatasetTemplate.from_dict({"height": SIZE[0], "width": SIZE[1], **kw})


def prepare(src: Path, dst: Path, tmpl: DatasetTemplate, **kw: Any) -> Any:
    return prepare_dataset(src, dst, tmpl, workers=1, progress=False, **kw).manifest


def sample(i: int, size: tuple[int, int] = SIZE) -> Any:
    return make_synthetic_sample(*size, seed=200 + i, density=2.0, radius=(4.0, 8.0))


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two label images separate the same pixels into the same objects (ids aside)."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


def contiguous(labels: np.ndarray) -> bool:
    ids = np.unique(labels)
    return list(ids[ids > 0]) == list(range(1, int(labels.max()) + 1))


def test_kaggle_objects_become_instances_in_file_order(tmp_path: Path) -> None:
    src = tmp_path / "src"
    s = sample(0)
    case = src / "case0"
    write_image(case / "images" / "case0.png", s.image)
    for k in range(1, int(s.labels.max()) + 1):
        write_image(
            case / "masks" / f"obj{k:03d}.png", np.where(s.labels == k, 255, 0).astype(np.uint8)
        )
    m = prepare(src, tmp_path / "out", template())
    (pair,) = m.pairs
    labels = load_instances(m, pair)
    assert labels is not None and labels.dtype == np.uint16
    np.testing.assert_array_equal(labels, s.labels)  # ids = file order
    assert pair.instances == f"{pair.split}/instances/case0.tif"
    _, mask = load_pair(m, pair)
    np.testing.assert_array_equal(mask, s.labels > 0)
    assert verify_dataset(tmp_path / "out").ok


@pytest.mark.parametrize(
    ("values", "dtype", "instances"),
    [
        ("labels*7", np.uint16, True),  # 16-bit, non-contiguous ids
        ("labels", np.uint8, True),  # 8-bit with more distinct values than classes
        ("binary255", np.uint8, False),
        ("binary01", np.uint16, False),  # a binary mask is never instances, whatever its dtype
    ],
)
def test_label_mask_rule(tmp_path: Path, values: str, dtype: Any, instances: bool) -> None:
    s = sample(1)
    mask = {
        "labels*7": s.labels.astype(np.uint32) * 7,
        "labels": s.labels,
        "binary255": np.where(s.labels > 0, 255, 0),
        "binary01": (s.labels > 0),
    }[values].astype(dtype)
    src = tmp_path / "src"
    write_image(src / "images" / "a.png", s.image)
    (src / "masks").mkdir()
    tifffile.imwrite(src / "masks" / "a.tif", mask)
    m = prepare(src, tmp_path / "out", template())
    labels = load_instances(m, m.pairs[0])
    assert (labels is not None) == instances
    if labels is not None:
        assert contiguous(labels) and same_partition(labels, s.labels)


def test_a_mapping_means_classes_not_instances(tmp_path: Path) -> None:
    s = sample(2)
    src = tmp_path / "src"
    write_image(src / "images" / "a.png", s.image)
    write_image(src / "masks" / "a.png", s.class_mask * 100)
    tmpl = template(classes={"names": ["background", "negative", "positive"],
                             "mapping": {"100": 1, "200": 2}})  # fmt: skip
    m = prepare(src, tmp_path / "out", tmpl)
    assert load_instances(m, m.pairs[0]) is None


def _label_source(tmp_path: Path, size: tuple[int, int]) -> tuple[Path, Any]:
    s = sample(3, size)
    src = tmp_path / "src"
    write_image(src / "images" / "a.png", s.image)
    (src / "masks").mkdir()
    tifffile.imwrite(src / "masks" / "a.tif", s.labels.astype(np.uint16) * 3)
    return src, s


def test_tile_cuts_instances_and_relabels_each_tile(tmp_path: Path) -> None:
    src, s = _label_source(tmp_path, (100, 130))
    m = prepare(src, tmp_path / "out", template(fit="tile"))
    assert len(m.pairs) == 3 * 3
    full = np.zeros((3 * SIZE[0], 3 * SIZE[1]), dtype=np.int64)
    full[:100, :130] = s.labels
    for p in m.pairs:
        assert p.tile is not None
        labels = load_instances(m, p)
        assert labels is not None and labels.shape == SIZE and contiguous(labels)
        r, c = p.tile[0] * SIZE[0], p.tile[1] * SIZE[1]
        cut = full[r : r + SIZE[0], c : c + SIZE[1]]
        # nothing lost on the tile borders: the same objects, pixel for pixel
        assert same_partition(labels, cut)
        assert int(labels.max()) == len(np.unique(cut[cut > 0]))


@pytest.mark.parametrize("fit", ["stretch", "pad", "crop"])
def test_resizing_fits_resize_instances_with_nearest_neighbour(tmp_path: Path, fit: str) -> None:
    src, s = _label_source(tmp_path, (96, 100))
    m = prepare(src, tmp_path / "out", template(fit=fit))
    labels = load_instances(m, m.pairs[0])
    assert labels is not None and labels.shape == SIZE and contiguous(labels)
    _, mask = load_pair(m, m.pairs[0])
    np.testing.assert_array_equal(labels > 0, mask > 0)
    if fit == "stretch":
        np.testing.assert_array_equal(labels, relabel(resize_mask(s.labels, SIZE)))


def _square(x0: float, y0: float, side: float) -> list[list[float]]:
    return [[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side], [x0, y0]]


def test_geojson_polygons_give_mask_and_instances(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_image(src / "a.png", np.full((*SIZE, 3), 200, np.uint8))
    features = [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [_square(4, 4, 10)]},
         "properties": {"objectType": "detection", "classification": {"name": "Positive"}}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [_square(20, 8, 8)]},
         "properties": {"objectType": "detection", "classification": {"name": "negative"}}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [_square(40, 30, 6)]},
         "properties": {"objectType": "detection"}},
    ]  # fmt: skip
    (src / "a.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    tmpl = template(classes={"names": ["background", "negative", "positive"],
                             "mapping": {"1": 1, "2": 2}})  # fmt: skip
    report = prepare_dataset(src, tmp_path / "out", tmpl, workers=1, progress=False)
    assert report.layout == "polygons"
    m = report.manifest
    (pair,) = m.pairs
    assert pair.source_annotations == "a.geojson" and pair.source_mask == ""
    _, mask = load_pair(m, pair)
    assert mask[8, 8] == 2 and mask[10, 22] == 1 and mask[32, 42] == 1  # unnamed: class 1
    labels = load_instances(m, pair)
    assert labels is not None
    assert (labels[8, 8], labels[10, 22], labels[32, 42], labels[0, 0]) == (1, 2, 3, 0)
    assert int((labels == 1).sum()) == 100


def test_aperio_xml_beside_a_mask_gives_instances_only(tmp_path: Path) -> None:
    src = tmp_path / "src"
    image = np.full((*SIZE, 3), 180, np.uint8)
    write_image(src / "images" / "a.png", image)
    mask = np.zeros(SIZE, np.uint8)
    mask[:10, :10] = 255
    write_image(src / "masks" / "a.png", mask)
    (tmp_path / "xml").mkdir()
    vertices = "".join(
        f'<Vertex X="{x}" Y="{y}"/>' for x, y in [(20, 20), (29, 20), (29, 29), (20, 29)]
    )
    (tmp_path / "xml" / "a.xml").write_text(
        '<Annotations MicronsPerPixel="0.25"><Annotation Id="1"><Regions>'
        f'<Region Id="1"><Vertices>{vertices}</Vertices></Region>'
        "</Regions></Annotation></Annotations>"
    )
    layout = SourceLayout(annotations=str(tmp_path / "xml"))
    m = prepare(src, tmp_path / "out", template(), source_layout=layout)
    (pair,) = m.pairs
    _, got = load_pair(m, pair)
    np.testing.assert_array_equal(got, mask > 0)  # the mask file is the mask
    labels = load_instances(m, pair)
    assert labels is not None and labels.max() == 1 and int((labels == 1).sum()) == 81  # 9x9
    assert pair.source_annotations == "../xml/a.xml"


def test_target_instances_skips_pairs_without_instance_labels(tmp_path: Path) -> None:
    src, _ = _label_source(tmp_path, SIZE)
    write_image(src / "images" / "b.png", np.zeros((*SIZE, 3), np.uint8))
    write_image(src / "masks" / "b.png", np.zeros(SIZE, np.uint8))
    report = prepare_dataset(
        src, tmp_path / "out", template(target="instances"), workers=1, progress=False
    )
    assert [p.source_image for p in report.manifest.pairs] == ["images/a.png"]
    assert [(s.file, s.reason) for s in report.skipped] == [("images/b.png", NO_INSTANCES)]
    semantic = prepare(src, tmp_path / "out2", template())
    assert len(semantic.pairs) == 2


def _points_source(tmp_path: Path, points: list[dict[str, Any]]) -> Path:
    src = tmp_path / "src"
    write_image(src / "images" / "p.png", np.full((96, 128, 3), 128, np.uint8))
    (src / "points").mkdir()
    (src / "points" / "p.json").write_text(json.dumps(points))
    return src


POINTS = [{"x": 10.0, "y": 20.0, "label_id": 1}, {"x": 100.5, "y": 60.25, "label_id": 2},
          {"x": 127.9, "y": 95.9, "label_id": 3}]  # fmt: skip


def test_points_are_scaled_and_the_pair_has_no_mask(tmp_path: Path) -> None:
    src = _points_source(tmp_path, POINTS)
    m = prepare(src, tmp_path / "out", template())  # 96x128 -> 48x64: half
    (pair,) = m.pairs
    assert pair.mask == "" and pair.points == f"{pair.split}/points/p.json"
    xy, names = load_points(m, pair)
    np.testing.assert_allclose(xy, [[5.0, 10.0], [50.25, 30.125], [63.95, 47.95]])
    assert names == ("Positive", "Negative", "Lymphocyte")
    with pytest.raises(ManifestError, match="has points, no mask"):
        load_pair(m, pair)
    with pytest.raises(VerifyError, match="points and no mask"):
        require_trainable(m)
    assert verify_dataset(tmp_path / "out").ok
    (tmp_path / "out" / pair.points).write_text("[]")
    assert verify_dataset(tmp_path / "out").changed == (pair.points,)


def test_each_point_goes_to_the_tile_holding_it(tmp_path: Path) -> None:
    src = _points_source(tmp_path, POINTS)
    m = prepare(src, tmp_path / "out", template(fit="tile"))
    where = {p.tile: load_points(m, p) for p in m.pairs}
    assert sum(len(n) for _, n in where.values()) == 3
    np.testing.assert_allclose(where[(0, 0)][0], [[10.0, 20.0]])
    np.testing.assert_allclose(where[(1, 1)][0], [[36.5, 12.25], [63.9, 47.9]])
    assert where[(0, 1)][1] == () and where[(1, 0)][1] == ()
    crop = prepare(src, tmp_path / "crop", template(height=48, width=48, fit="crop"))
    xy, names = load_points(crop, crop.pairs[0])  # 96x128 -> 48x64, cropped to 48x48 (left 8)
    assert names == ("Negative",) and np.allclose(xy, [[42.25, 30.125]])


def test_target_instances_skips_points_pairs(tmp_path: Path) -> None:
    src = _points_source(tmp_path, POINTS)
    with pytest.raises(Exception, match="every pair failed"):
        prepare(src, tmp_path / "out", template(target="instances"))


@pytest.mark.parametrize("values", [(0, 255), (0, 1, 2), (0, 3, 7, 9, 11)])
def test_instance_rule_is_the_same_for_pillow_and_arrays(values: tuple[int, ...]) -> None:
    from PIL import Image

    from segkit.dataset.targets import instance_labels
    from segkit.template import ClassSpec

    mask = np.array(values * 20, dtype=np.uint8).reshape(len(values) * 4, 5)
    classes = ClassSpec()  # 2 classes: more than 2 ids in an 8-bit mask mean instances
    from_array = instance_labels(mask, classes)
    from_pil = instance_labels(Image.fromarray(mask), classes)
    assert (from_array is None) == (from_pil is None) == (len(values) - 1 <= 2)
    if from_array is not None:
        np.testing.assert_array_equal(from_pil, from_array)
