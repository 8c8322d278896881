"""Drive notebook 01 in a real Chromium: fill the form, press "Generate settings", read the JSON.

Voilà serves a copy of ``notebooks/01_dataset_template.ipynb`` on 127.0.0.1 (random port,
token, Jupyter dirs in a temporary folder); Playwright drives Debian's Chromium. A screenshot
is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from support import REPO_ROOT, require

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = REPO_ROOT / "notebooks" / "01_dataset_template.ipynb"
ARTIFACTS = REPO_ROOT / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]


def _jupyter_env(root: Path) -> dict[str, str]:
    env = {}
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / sub)
    return env | {"TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}


def _set(page, field: str, value: str) -> None:
    box = page.locator(f".segkit-field-{field} input")
    box.fill(value)
    box.press("Tab")  # number boxes send their value on change (blur)


def test_fill_form_and_generate_settings(tmp_path):
    require(CHROMIUM.is_file(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "playwright is not installed")
    require(importlib.util.find_spec("voila") is not None, "voila is not installed")
    from playwright.sync_api import expect, sync_playwright

    from segkit.commands.ui import HEADLESS_CHROMIUM_ARGS, serving

    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    written = work / "segkit_output" / "template.json"  # the notebook's default output
    ARTIFACTS.mkdir(exist_ok=True)

    with (
        serving(
            work / NOTEBOOK.name,
            env=_jupyter_env(tmp_path / "jupyter"),
            log=ARTIFACTS / "voila.log",
        ) as url,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1300})
            page.goto(url, timeout=60_000)
            button = page.locator("button.segkit-generate")
            button.wait_for(timeout=60_000)

            # An invalid width: the error appears beside the field and nothing is written.
            _set(page, "width", "5")
            button.click()
            expect(page.locator(".segkit-error-width")).to_contain_text("16 to 16384")
            expect(page.locator(".segkit-status")).to_contain_text("nothing was written")
            assert not written.exists()

            _set(page, "width", "320")
            _set(page, "height", "240")
            page.locator(".segkit-field-image_type select").select_option(label="JPG")
            page.locator(".segkit-field-color_model select").select_option(label="GRAYSCALE")
            page.get_by_text("Original images and masks in the same directory").click()
            mask_kw = page.locator(".segkit-field-mask_keyword input")
            mask_kw.fill("_label")
            mask_kw.press("Tab")
            button.click()
            expect(page.locator(".segkit-status")).to_contain_text("wrote", timeout=15_000)
            expect(page.locator(".segkit-error-width")).to_have_text("")
            page.screenshot(path=str(ARTIFACTS / "template_form_browser.png"), full_page=True)
        finally:
            browser.close()

    data = json.loads(written.read_text())
    assert (data["width"], data["height"]) == (320, 240)
    assert (data["image_type"], data["color_model"]) == ("jpg", "grayscale")
    assert (data["layout"], data["mask_keyword"]) == ("suffix", "_label")
    assert (data["fit"], data["split"]["train"]) == ("stretch", 0.8)  # untouched defaults
