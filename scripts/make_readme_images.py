"""Make the README's pictures with segkit's own code.

- ``docs/images/template_form.png``: the template form served by Voila (as ``segkit ui`` does),
  filled in and submitted in headless Chromium (Playwright), then photographed.
- ``docs/images/result.png``: original | mask | prediction for held-out synthetic images, from a
  small U-Net trained here on the CPU (about a minute).

Usage: ``python scripts/make_readme_images.py [--only form|result] [--chromium PATH]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"


def _save_png(data: bytes, target: Path, *, colours: int = 0) -> Path:
    """Write PNG bytes atomically, optionally quantised to ``colours`` to keep it small."""
    import io

    from PIL import Image

    from segkit.files import atomic_path

    im = Image.open(io.BytesIO(data)).convert("RGB")
    if colours:
        im = im.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    with atomic_path(target) as tmp:
        im.save(tmp, format="PNG", optimize=True)
    return target


def make_form_image(chromium: str) -> Path:
    """Fill in the template form in Chromium and photograph it."""
    from playwright.sync_api import expect, sync_playwright

    from segkit.commands.ui import HEADLESS_CHROMIUM_ARGS, form_notebook, serving

    with tempfile.TemporaryDirectory(prefix="segkit-form-") as tmp:
        nb = Path(tmp) / "Dataset template.ipynb"
        # The form writes template.json beside the notebook (the kernel's working directory).
        nb.write_text(form_notebook("template.json"), encoding="utf-8")
        env = {"JUPYTER_RUNTIME_DIR": tmp, "JUPYTER_DATA_DIR": tmp, "IPYTHONDIR": tmp}
        with serving(nb, env=env) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=HEADLESS_CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 820, "height": 1400})
                page.goto(url, timeout=60_000)
                button = page.locator("button.segkit-generate")
                button.wait_for(timeout=60_000)
                for field, value in (("width", "512"), ("height", "512")):
                    box = page.locator(f".segkit-field-{field} input")
                    box.fill(value)
                    box.press("Tab")
                page.locator(".segkit-field-image_type select").select_option(label="PNG")
                page.get_by_text("Original images and masks in the same directory").click()
                button.click()
                expect(page.locator(".segkit-status")).to_contain_text("wrote", timeout=15_000)
                # The form down to the status line (the JSON shown below it is left out).
                top = page.locator(".segkit-template-form").bounding_box()
                bottom = page.locator("button.segkit-generate").bounding_box()
                assert top is not None and bottom is not None
                clip = {
                    "x": top["x"],
                    "y": top["y"],
                    "width": top["width"],
                    "height": bottom["y"] + bottom["height"] + 8 - top["y"],
                }
                png = page.screenshot(clip=clip)
            finally:
                browser.close()
    return _save_png(png, OUT / "template_form.png", colours=64)


def make_result_image() -> Path:
    """Train a small U-Net on synthetic data and draw original | mask | prediction."""
    import io

    from segkit import DatasetTemplate, viz
    from segkit.dataset import load_manifest, load_pair, prepare_dataset
    from segkit.inference import predict
    from segkit.models import load_model
    from segkit.synthetic import make_synthetic_dataset
    from segkit.training import TrainConfig, train

    with tempfile.TemporaryDirectory(prefix="segkit-result-") as tmp:
        work = Path(tmp)
        source = make_synthetic_dataset(work / "source", 32, height=128, width=128, seed=7)
        template = DatasetTemplate(
            height=128, width=128, split={"train": 0.75, "val": 0.125, "test": 0.125, "seed": 1}
        )
        prepare_dataset(source, work / "prepared", template, progress=False)
        config = TrainConfig(
            epochs=12,
            batch_size=4,
            learning_rate=0.002,
            depth=3,
            base_filters=16,
            batch_norm=False,
            seed=0,
            sample_figures=0,
        )
        run = train(work / "prepared", config, runs_dir=work / "runs")
        model, info = load_model(run.path)
        manifest = load_manifest(work / "prepared")
        pairs = (manifest.split("test") + manifest.split("val"))[:3]
        images, masks = zip(*(load_pair(manifest, p) for p in pairs))
        predictions = [predict(model, im, info=info) for im in images]
        fig = viz.prediction_grid(images, masks, predictions, titles=[p.name for p in pairs])
        test_dice = run.metrics.get("test", {}).get("dice")
        if test_dice is not None:
            fig.suptitle(
                f"U-Net on held-out synthetic IHC tiles (test Dice {test_dice:.3f})", fontsize=10
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
    return _save_png(buf.getvalue(), OUT / "result.png", colours=128)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("form", "result"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    for name, make in (
        ("form", lambda: make_form_image(args.chromium)),
        ("result", make_result_image),
    ):
        if args.only in (None, name):
            start = time.perf_counter()
            path = make()
            size = path.stat().st_size / 1024
            seconds = time.perf_counter() - start
            print(f"wrote {path.relative_to(ROOT)} ({size:.0f} KB, {seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
