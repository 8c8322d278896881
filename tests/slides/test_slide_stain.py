"""A slide's windows are normalised by one stain measurement of the slide (no seams)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from slide_models import array_slide, darkness_model, model_info, tissue_image
from support import require_module

require_module("zarr", "the slides extra: pip install -e '.[slides]'")

from segkit.imaging import encode_mask  # noqa: E402
from segkit.inference import predict  # noqa: E402
from segkit.slides import SlideNuclei, predict_slide  # noqa: E402
from segkit.slides.stain import sample_windows, slide_normaliser  # noqa: E402
from segkit.slides.windows import plan_windows, tissue_test  # noqa: E402
from segkit.stain_normalisation import (  # noqa: E402
    StainNormalisation,
    measure_stain,
    normalise,
)

# a darker, bluer lab than tissue_image's
TARGET = StainNormalisation("reinhard", lab_mean=(45.0, 20.0, -25.0), lab_std=(14.0, 9.0, 10.0))


def test_the_streamed_mask_is_that_of_the_image_normalised_by_one_measurement(
    tmp_path: Path,
) -> None:
    image = tissue_image((520, 650), seed=4)
    model, plain = darkness_model(), model_info()
    info = plain.replace(stain_normalisation=TARGET)
    slide = array_slide(image)
    everywhere = np.ones((52, 65), dtype=bool)
    plan, _ = plan_windows(model, slide, info, tile_size=128)
    sample = sample_windows(slide, plan, tissue_test(everywhere, slide, plan))
    assert sample is not None and sample.shape == (8 * 128, 128, 3)
    source = measure_stain(sample, "reinhard")
    assert source is not None
    expected = predict(model, normalise(image, TARGET, source=source), info=plain, tile_size=128)

    res = predict_slide(
        model, slide, tmp_path, info=info, tile_size=128, tissue=everywhere, progress=False
    )
    with tifffile.TiffFile(res.path) as tif:
        got = tif.series[0].levels[0].asarray()
    np.testing.assert_array_equal(got, encode_mask(expected, 2))
    unchanged = predict(model, image, info=plain, tile_size=128)
    assert (expected != unchanged).mean() > 0.01  # the normalisation changed the mask


def test_none_reads_windows_as_before_and_nuclei_get_the_same_function() -> None:
    image = tissue_image((300, 300), seed=5, glass=True)
    model, plain = darkness_model(), model_info()
    slide = array_slide(image)
    plan, _ = plan_windows(model, slide, plain, tile_size=128)
    test = tissue_test(None, slide, plan)
    assert slide_normaliser(slide, plan, plain, test) is None
    apply = slide_normaliser(slide, plan, plain.replace(stain_normalisation=TARGET), test)
    assert apply is not None
    window = image[100:228, 75:203]
    sample = sample_windows(slide, plan, test)
    np.testing.assert_array_equal(apply(window), normalise(window, TARGET,
                                  source=measure_stain(sample, "reinhard")))  # fmt: skip
    nuclei = SlideNuclei(model, slide, info=plain.replace(stain_normalisation=TARGET),
                         tile_size=128)  # fmt: skip
    plain_nuclei = SlideNuclei(model, slide, info=plain, tile_size=128)
    total = sum(float(band.proba.sum()) for band in nuclei)
    plain_total = sum(float(band.proba.sum()) for band in plain_nuclei)
    assert abs(total - plain_total) > 0.01 * plain_total  # the windows were normalised
