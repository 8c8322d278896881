from __future__ import annotations

import numpy as np
import pytest
from support import require_module

require_module("ipywidgets", "the notebooks extra: pip install -e '.[notebooks]'")

from segkit.dataset import prepare_dataset  # noqa: E402
from segkit.template import DatasetTemplate  # noqa: E402
from segkit.widgets import DatasetBrowser, logic  # noqa: E402


@pytest.fixture(scope="module")
def prepared(synthetic_source, tmp_path_factory):
    dst = tmp_path_factory.mktemp("browse") / "prepared"
    template = DatasetTemplate(height=32, width=32)
    prepare_dataset(synthetic_source, dst, template, workers=1, progress=False)
    return dst


def test_open_source_dataset(synthetic_source):
    view = logic.open_dataset(synthetic_source)
    assert view.kind == "source" and len(view.items) == 12
    assert "12" in view.report
    image, mask = logic.load_item(view, 0)
    assert image.shape == (64, 64, 3) and mask.shape == (64, 64)
    assert set(np.unique(mask)) <= {0, 255} and mask.max() == 255
    with pytest.raises(IndexError, match="out of range"):
        logic.load_item(view, 12)


def test_open_prepared_dataset_and_split(prepared):
    view = logic.open_dataset(prepared)
    assert view.kind == "prepared" and len(view.items) == 12
    assert "fingerprint" in view.report and "32x32" in view.report
    image, mask = logic.load_item(view, 0)
    assert image.shape == (32, 32, 3) and set(np.unique(mask)) <= {0, 1}
    train = logic.open_dataset(prepared, split="train")
    assert 0 < len(train.items) < 12 and {i.split for i in train.items} == {"train"}


def test_colour_masks_and_kaggle_merge(tmp_path):
    from segkit.imaging import write_image

    (tmp_path / "images").mkdir()
    write_image(tmp_path / "images" / "a.png", np.zeros((8, 8, 3), np.uint8))
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[:4, :4] = (255, 0, 0)
    colour[4:, 4:] = (0, 255, 0)
    write_image(tmp_path / "masks" / "a.png", colour)
    view = logic.open_dataset(tmp_path)
    _, mask = logic.load_item(view, 0)
    assert mask[0, 0] != mask[7, 7] and mask[0, 0] > 0 and mask[0, 7] == 0


def test_render_overlay_png_and_shrink():
    png = logic.render_overlay(np.zeros((100, 50, 3), np.uint8), max_side=40)
    from segkit.imaging import decode_image

    assert decode_image(png, "x.png").shape == (34, 17, 3)


def test_browser_pages_and_redraws(synthetic_source, tmp_path):
    browser = DatasetBrowser(synthetic_source)
    assert browser.view is not None and browser.index.max == 11
    first = browser.image.value
    assert first[:4] == b"\x89PNG" and "1 of 12" in browser.title.value
    browser.alpha.value = 1.0
    assert browser.image.value != first
    browser.index.value = 5
    assert "6 of 12" in browser.title.value
    browser.contours.value = True
    assert browser.image.value[:4] == b"\x89PNG"
    assert browser.open(tmp_path / "missing") is None
    assert "no such folder" in browser.report.value and browser.index.disabled
