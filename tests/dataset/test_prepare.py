"""prepare_dataset on synthetic sources: outputs, manifest, split, safety and reuse."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from segkit.dataset import (
    PrepareError,
    SourceLayout,
    compute_fingerprint,
    load_manifest,
    load_pair,
    prepare_dataset,
)
from segkit.imaging import read_image, write_image
from segkit.template import ClassSpec, DatasetTemplate, SplitSpec

T32 = DatasetTemplate(height=32, width=32)


def prep(src: Path, dst: Path, template: DatasetTemplate = T32, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("progress", False)
    return prepare_dataset(src, dst, template, **kw)


def test_outputs_and_manifest(separate_source: Path, tmp_path: Path, digest_tree) -> None:
    before = digest_tree(separate_source)
    report = prep(separate_source, tmp_path / "dst")
    assert digest_tree(separate_source) == before  # the source is untouched
    m = load_manifest(tmp_path / "dst")
    assert len(m.pairs) == 8 and report.encoded == 8 and report.reused == 0
    assert sum(m.counts.values()) == 8 and all(m.counts.values())
    assert m.source == str(separate_source.resolve())
    assert m.fingerprint == compute_fingerprint(m.template, m.pairs)
    raw = json.loads((tmp_path / "dst" / "manifest.json").read_text())
    assert raw["format_version"] == 1 and raw["template"] == T32.to_dict()
    for p in m.pairs:
        assert p.image == f"{p.split}/images/{p.name}.png"
        assert p.mask == f"{p.split}/masks/{p.name}.png"
        assert hashlib.sha256(m.path(p.image).read_bytes()).hexdigest() == p.image_sha256
        assert hashlib.sha256(m.path(p.mask).read_bytes()).hexdigest() == p.mask_sha256
        src_bytes = (separate_source / p.source_image).read_bytes()
        assert hashlib.sha256(src_bytes).hexdigest() == p.source_image_sha256
        assert p.source_size == (48, 64) and p.scale == (32 / 48, 32 / 64) and p.tile is None
        assert set(np.unique(read_image(m.path(p.mask)))) <= {0, 255}
        image, mask = load_pair(m, p)
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 1}
    assert len(m.split("train")) == m.counts["train"]


def test_foreground_survives_resizing(tmp_path: Path, write_pair) -> None:
    src = tmp_path / "src"
    _, fg = write_pair(src / "images/a.png", src / "masks/a.png", 0, size=(64, 64))
    write_pair(src / "images/b.png", src / "masks/b.png", 1, size=(64, 64))
    m = prep(src, tmp_path / "dst", T32.replace(height=128, width=128)).manifest
    _, mask = load_pair(m, "a")
    # Nearest neighbour doubling: every output pixel equals its source pixel.
    np.testing.assert_array_equal(mask[::2, ::2], fg.astype(np.uint8))


@pytest.mark.parametrize("image_type", ["png", "jpg", "bmp", "tif"])
@pytest.mark.parametrize("color_model", ["rgb", "grayscale", "binary"])
def test_image_types_and_colour_models(
    separate_source: Path, tmp_path: Path, image_type: str, color_model: str
) -> None:
    t = T32.replace(image_type=image_type, color_model=color_model)
    m = prep(separate_source, tmp_path / "dst", t).manifest
    p = m.pairs[0]
    assert p.image.endswith("." + image_type) and p.mask.endswith(".png")
    on_disk = read_image(m.path(p.image))
    assert on_disk.shape[:2] == (32, 32)
    assert on_disk.ndim == (3 if color_model == "rgb" else 2)
    if color_model == "binary" and image_type != "jpg":  # JPEG is lossy, even for 0/255
        assert set(np.unique(on_disk)) <= {0, 255}
    image, mask = load_pair(m, p)
    assert image.shape == (32, 32, t.channels) and mask.shape == (32, 32)


@pytest.mark.parametrize("source_type", ["jpg", "bmp", "tif"])
def test_source_formats(tmp_path: Path, source_type: str) -> None:
    from segkit.synthetic import make_synthetic_dataset

    src = make_synthetic_dataset(tmp_path / "src", 4, height=40, width=40, image_type=source_type)
    assert len(prep(src, tmp_path / "dst").manifest.pairs) == 4


def test_suffix_layout_output(tmp_path: Path, write_pair) -> None:
    src = tmp_path / "src"
    for i in range(4):
        write_pair(src / f"p{i}.jpg", src / f"p{i}_mask.png", i, encoding="binary01")
    m = prep(src, tmp_path / "dst", T32.replace(layout="suffix", mask_keyword="_seg")).manifest
    assert len(m.pairs) == 4
    for p in m.pairs:
        assert p.image == f"{p.split}/{p.name}.png" and p.mask == f"{p.split}/{p.name}_seg.png"
        assert m.path(p.mask).is_file()
        assert load_pair(m, p)[1].max() == 1  # {0,1} source masks became foreground


def test_16bit_grey_and_rgba_sources(tmp_path: Path) -> None:
    src = tmp_path / "src"
    ramp = np.linspace(1000, 3000, 40 * 40).reshape(40, 40).astype(np.uint16)
    write_image(src / "images/g16.png", ramp)
    write_image(src / "images/g16t.tif", ramp)
    write_image(src / "images/rgb16.tif", np.dstack([ramp, ramp, ramp]))
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 1] = 200
    write_image(src / "images/rgba.png", rgba)  # alpha 0 everywhere: dropped, not applied
    labels = np.zeros((40, 40), np.uint16)
    labels[5:10, 5:10] = 4000
    for n in ("g16", "g16t", "rgb16", "rgba"):
        write_image(src / f"masks/{n}.png", labels)
    m = prep(src, tmp_path / "dst", T32.replace(height=40, width=40)).manifest
    for n in ("g16", "g16t", "rgb16"):
        image, mask = load_pair(m, n)
        # 0.1st-99.9th percentile stretch to 0..255
        assert image.min() == 0 and image.max() == 255
        assert image[0, 0, 0] == 0 and image[-1, -1, 0] == 255
        assert mask.sum() == 25
    image, _ = load_pair(m, "rgba")
    assert np.all(image[..., 1] == 200) and not image[..., 0].any()


def test_multiclass_template(tmp_path: Path) -> None:
    from segkit.synthetic import make_synthetic_dataset

    src = make_synthetic_dataset(tmp_path / "src", 4, height=32, width=32, mask_encoding="classes")
    classes = ClassSpec(names=("background", "negative", "positive"), mapping={"1": 1, "2": 2})
    m = prep(src, tmp_path / "dst", T32.replace(classes=classes)).manifest
    values = set()
    for p in m.pairs:
        _, mask = load_pair(m, p)
        values |= set(np.unique(mask).tolist())
    assert values == {0, 1, 2}


def test_tile_mode_keeps_tiles_of_one_source_together(tmp_path: Path, write_pair) -> None:
    src = tmp_path / "src"
    for i in range(6):
        write_pair(src / f"images/s{i}.png", src / f"masks/s{i}.png", i, size=(40, 50))
    m = prep(src, tmp_path / "dst", T32.replace(fit="tile")).manifest
    assert len(m.pairs) == 6 * 4
    by_source: dict[str, set[str]] = {}
    for p in m.pairs:
        assert p.tile is not None and p.scale == (1.0, 1.0)
        assert p.name == f"{p.group}__r{p.tile[0]}_c{p.tile[1]}"
        by_source.setdefault(p.source_image, set()).add(p.split)
    assert all(len(parts) == 1 for parts in by_source.values())


def test_group_pattern_prevents_leakage(tmp_path: Path) -> None:
    from segkit.synthetic import make_synthetic_dataset

    src = make_synthetic_dataset(tmp_path / "src", 40, height=16, width=16, groups=7)
    t = T32.replace(height=16, width=16, split=SplitSpec(group_pattern=r"(slide\d+)_"))
    m = prep(src, tmp_path / "dst", t, workers=2).manifest
    parts_of: dict[str, set[str]] = {}
    for p in m.pairs:
        assert p.group.startswith("slide")
        parts_of.setdefault(p.group, set()).add(p.split)
    assert len(parts_of) == 7
    assert all(len(v) == 1 for v in parts_of.values())
    assert {s for v in parts_of.values() for s in v} == {"train", "val", "test"}


def test_split_is_stable_when_files_are_added(tmp_path: Path) -> None:
    from segkit.synthetic import make_synthetic_dataset

    src = make_synthetic_dataset(tmp_path / "src", 30, height=16, width=16)
    t = T32.replace(height=16, width=16)
    first = {p.name: p.split for p in prep(src, tmp_path / "a", t).manifest.pairs}
    again = prep(src, tmp_path / "b", t).manifest
    assert {p.name: p.split for p in again.pairs} == first
    assert again.fingerprint == load_manifest(tmp_path / "a").fingerprint
    make_synthetic_dataset(src, 30, height=16, width=16, prefix="extra", seed=5)
    grown = {p.name: p.split for p in prep(src, tmp_path / "a", t, overwrite=True).manifest.pairs}
    assert len(grown) == 60
    assert {n: grown[n] for n in first} == first
    # A fresh build of the grown source gives the same split on every run.
    fresh = [prep(src, tmp_path / d, t).manifest for d in ("c", "d")]
    assert fresh[0].fingerprint == fresh[1].fingerprint


def test_refuses_dst_inside_src_and_existing_dst(separate_source: Path, tmp_path: Path) -> None:
    with pytest.raises(PrepareError, match="inside the source"):
        prep(separate_source, separate_source / "out")
    with pytest.raises(PrepareError, match="inside the source"):
        prep(separate_source, separate_source)
    with pytest.raises(PrepareError, match="contain the source"):
        prep(separate_source, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        prep(separate_source, other)
    assert (other / "keep.txt").read_text() == "mine"
    prep(separate_source, other, overwrite=True)
    assert not (other / "keep.txt").exists() and (other / "manifest.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(prep(separate_source, empty).manifest.pairs) == 8
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders


def test_rerun_is_up_to_date_or_reuses_outputs(separate_source: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    first = prep(separate_source, dst)
    stamp = (dst / "manifest.json").stat().st_mtime_ns
    again = prep(separate_source, dst)
    assert again.up_to_date and again.encoded == 0
    assert (dst / "manifest.json").stat().st_mtime_ns == stamp
    redo = prep(separate_source, dst, overwrite=True)
    assert redo.encoded == 0 and redo.reused == 8
    assert redo.manifest.fingerprint == first.manifest.fingerprint
    # Change one source mask: only that pair is encoded again.
    mask = read_image(separate_source / "masks/s03.png")
    write_image(separate_source / "masks/s03.png", 255 - mask)
    with pytest.raises(FileExistsError, match="changed"):
        prep(separate_source, dst)
    changed = prep(separate_source, dst, overwrite=True)
    assert changed.encoded == 1 and changed.reused == 7
    assert changed.manifest.fingerprint != first.manifest.fingerprint
    # A different template is not this data set.
    with pytest.raises(FileExistsError, match="--overwrite"):
        prep(separate_source, dst, T32.replace(color_model="grayscale"))


def test_bad_files_are_skipped_or_fail_in_strict_mode(
    separate_source: Path, tmp_path: Path
) -> None:
    (separate_source / "images/s01.png").write_bytes(b"not a png at all")
    write_image(separate_source / "masks/s02.png", np.zeros((10, 10), np.uint8))
    write_image(separate_source / "images/s09.png", np.zeros((8, 8, 3), np.uint8))
    report = prep(separate_source, tmp_path / "dst", workers=2)
    reasons = {s.file: s.reason for s in report.skipped}
    assert "does not decode" in reasons["images/s01.png"]
    assert "image is 64x48 but its mask masks/s02.png is 10x10" in reasons["images/s02.png"]
    assert reasons["images/s09.png"] == "image without a mask"
    assert len(report.manifest.pairs) == 6
    assert {s.file for s in report.manifest.skipped} >= set(reasons)
    assert "s01" in report.format()
    with pytest.raises(PrepareError, match="strict"):
        prep(separate_source, tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()


def test_pixel_limit(separate_source: Path, tmp_path: Path) -> None:
    report = prep(separate_source, tmp_path / "dst", max_pixels=10_000)
    assert len(report.manifest.pairs) == 8
    with pytest.raises(PrepareError, match="exceeds the limit"):
        prep(separate_source, tmp_path / "small", max_pixels=1_000)


def test_no_pairs_is_an_error(tmp_path: Path) -> None:
    write_image(tmp_path / "src/x.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(PrepareError, match="no image/mask pairs"):
        prep(tmp_path / "src", tmp_path / "dst")


def test_kaggle_masks_are_merged(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_image(src / "c1/images/c1.png", np.full((32, 32, 4), 90, np.uint8))
    for k, (r, c) in enumerate([(2, 2), (20, 5), (10, 25)]):
        m = np.zeros((32, 32), np.uint8)
        m[r : r + 4, c : c + 4] = 255
        write_image(src / f"c1/masks/obj{k}.png", m)
    write_image(src / "c2/images/c2.png", np.full((32, 32, 3), 90, np.uint8))
    write_image(src / "c2/masks/o.png", np.zeros((32, 32), np.uint8))
    m = prep(src, tmp_path / "dst").manifest
    p = m.pair("c1")
    assert p.source_mask == "c1/masks"
    assert load_pair(m, p)[1].sum() == 3 * 16


def test_pattern_layout_and_pool_without_fork(tmp_path: Path, monkeypatch, write_pair) -> None:
    import sys
    import types

    src = tmp_path / "src"
    for i in range(4):
        write_pair(src / f"img{i}.png", src / f"lab{i}.png", i, encoding="instance")
    # A deep-learning framework in the parent switches the pool to a fork server.
    monkeypatch.setitem(sys.modules, "jax", types.ModuleType("jax"))
    layout = SourceLayout(image_pattern=r"img(\d+)", mask_pattern=r"lab(\d+)")
    report = prep(src, tmp_path / "dst", source_layout=layout, workers=2)
    assert report.layout == "pattern" and len(report.manifest.pairs) == 4
    assert report.manifest.extra["source_layout"] == "pattern"


def test_palette_images_and_colour_coded_masks(tmp_path: Path) -> None:
    from PIL import Image

    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    idx = np.zeros((32, 32), np.uint8)
    idx[:, 16:] = 1
    pal = Image.fromarray(idx, mode="P")
    pal.putpalette([0, 0, 200, 250, 250, 0] + [0] * 762)
    for n in ("a", "b", "c"):
        pal.save(src / f"images/{n}.png")
        colour = np.zeros((32, 32, 3), np.uint8)
        colour[:8] = (255, 0, 0)  # tumour
        colour[8:16] = (0, 255, 0)  # stroma
        colour[16:24] = (0, 0, 255)  # not mapped: background
        write_image(src / f"masks/{n}.png", colour)
    classes = ClassSpec(names=("bg", "tumour", "stroma"), mapping={"#ff0000": 1, "#00ff00": 2})
    m = prep(src, tmp_path / "dst", T32.replace(classes=classes)).manifest
    image, mask = load_pair(m, "a")
    assert image[0, 0].tolist() == [0, 0, 200] and image[0, 31].tolist() == [250, 250, 0]
    assert mask[:8].tolist() == [[1] * 32] * 8 and (mask[8:16] == 2).all()
    assert not mask[16:].any()


def test_rebuild_keeps_names_when_a_same_stem_file_arrives(
    separate_source: Path, tmp_path: Path, write_pair
) -> None:
    dst = tmp_path / "dst"
    before = {p.name: p.split for p in prep(separate_source, dst).manifest.pairs}
    write_pair(separate_source / "extra/images/s00.png", separate_source / "extra/masks/s00.png", 9)
    report = prep(separate_source, dst, overwrite=True)
    after = {p.name: p.split for p in report.manifest.pairs}
    assert len(after) == 9 and report.reused == 8 and report.encoded == 1
    assert {n: after[n] for n in before} == before
    (new,) = set(after) - set(before)
    assert new.startswith("s00_")


def test_dataset_package_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, segkit.dataset, segkit.commands.prepare, segkit.commands.inspect\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'torch', 'jax') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
