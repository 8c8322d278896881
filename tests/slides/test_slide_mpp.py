"""Microns per pixel from each metadata source, slides without mpp, choosing a level."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from support import require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")
require_module("openslide", "the slides extra: pip install -e '.[slides]'")

from segkit.slides import (  # noqa: E402
    ArraySlide,
    best_level,
    level_for_mpp,
    make_synthetic_slide,
    open_slide,
    slide_mpp,
)
from segkit.slides.mpp import (  # noqa: E402
    mpp_from_aperio,
    mpp_from_ome,
    mpp_from_openslide,
    mpp_from_tiff_resolution,
    to_microns,
)
from segkit.slides.openslide_reader import OpenSlideSlide  # noqa: E402
from segkit.slides.tiff_reader import TiffSlide  # noqa: E402

OME = (
    '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0">'
    '<Pixels ID="Pixels:0" {attrs} SizeX="10" SizeY="10"/></Image></OME>'
)


def test_units_convert_to_microns():
    assert to_microns(1, "cm") == 10_000
    assert to_microns(1, "inch") == 25_400
    assert to_microns(250, "nm") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown length unit"):
        to_microns(1, "furlong")


def test_mpp_from_ome_reads_physical_sizes_with_units():
    assert mpp_from_ome(OME.format(attrs='PhysicalSizeX="0.25" PhysicalSizeY="0.5"')) == (
        0.25,
        0.5,
    )  # default unit: µm
    nm = 'PhysicalSizeX="250" PhysicalSizeXUnit="nm" PhysicalSizeY="250" PhysicalSizeYUnit="nm"'
    assert mpp_from_ome(OME.format(attrs=nm)) == pytest.approx((0.25, 0.25))
    assert mpp_from_ome(OME.format(attrs="")) is None
    assert mpp_from_ome("not xml") is None


def test_mpp_from_tiff_resolution_in_cm_and_inch():
    assert mpp_from_tiff_resolution((40_000, 1), (40_000, 1), 3) == (0.25, 0.25)
    assert mpp_from_tiff_resolution(101_600.0, 101_600.0, 2) == pytest.approx((0.25, 0.25))
    assert mpp_from_tiff_resolution((1, 1), (1, 1), 1) is None  # no absolute unit
    assert mpp_from_tiff_resolution((0, 1), (0, 1), 3) is None


def test_mpp_from_openslide_and_aperio():
    assert mpp_from_openslide({"openslide.mpp-x": "0.2527", "openslide.mpp-y": "0.2527"}) == (
        0.2527,
        0.2527,
    )
    assert mpp_from_openslide({}) is None
    assert mpp_from_aperio("Aperio Image Library v12 | AppMag = 40 | MPP = 0.2527 | x") == (
        0.2527,
        0.2527,
    )


@pytest.mark.parametrize(
    ("kind", "unit", "reader"),
    [("ome", "cm", TiffSlide), ("tiff", "cm", OpenSlideSlide), ("tiff", "inch", OpenSlideSlide)],
)
def test_slides_report_the_mpp_they_were_written_with(tmp_path, kind, unit, reader):
    path = tmp_path / f"s_{unit}.tif"
    make_synthetic_slide(
        path, size=(512, 512), kind=kind, tile=256, levels=2, mpp=0.5, resolution_unit=unit
    )
    with open_slide(path) as slide:
        assert isinstance(slide, reader)
        assert slide.mpp == pytest.approx((0.5, 0.5))
        if reader is OpenSlideSlide:
            assert float(slide.properties["openslide.mpp-x"]) == pytest.approx(0.5)
    with TiffSlide(path) as slide:  # the TIFF tags (or OME-XML) directly
        assert slide.mpp == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize("kind", ["ome", "tiff"])
def test_a_slide_without_mpp_says_so_and_which_scale_it_assumes(tmp_path, kind, caplog):
    path = make_synthetic_slide(
        tmp_path / "plain.tif", size=(512, 512), kind=kind, tile=256, mpp=None
    ).path
    with open_slide(path) as slide:
        assert slide.mpp is None
        with pytest.raises(ValueError, match="plain.tif: the file does not say its microns"):
            slide_mpp(slide)
        with caplog.at_level(logging.WARNING, logger="segkit.slides.mpp"):
            assert slide_mpp(slide, assume=0.25) == (0.25, 0.25)
        assert "assuming 0.25" in caplog.text
        assert level_for_mpp(slide, 0.5, assume=0.25) == (1, 1.0)


def test_level_for_mpp_chooses_by_resolution_and_never_upsamples():
    slide = ArraySlide(np.zeros((256, 256, 3), np.uint8), mpp=(0.25, 0.25), levels=4)
    assert level_for_mpp(slide, 0.25) == (0, 1.0)
    assert level_for_mpp(slide, 0.5) == (1, 1.0)
    assert level_for_mpp(slide, 1.0) == (2, 1.0)
    level, extra = level_for_mpp(slide, 0.8)
    assert level == 1 and extra == pytest.approx(1.6)
    level, extra = level_for_mpp(slide, 10.0)
    assert level == 3 and extra == pytest.approx(5.0)
    level, extra = level_for_mpp(slide, 0.1)  # finer than the scan: level 0, upsampling
    assert level == 0 and extra == pytest.approx(0.4)
    assert best_level(slide, 3.9) == 1 and best_level(slide, 4.0) == 2
    with pytest.raises(ValueError, match="target_mpp"):
        level_for_mpp(slide, 0)
