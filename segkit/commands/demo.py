"""``segkit demo``: the whole life cycle on the built-in synthetic data set.

synthetic source -> template -> inspect -> prepare -> train -> evaluate -> predict -> Ki-67
score (with the generator's true index beside it), all in
one output folder, in a few minutes on a laptop CPU. With ``--data SRC`` it runs on a data set
of the user's instead of the synthetic one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole life cycle (template, prepare, train, evaluate, predict)",
        description=(
            "Runs every step on the built-in synthetic IHC data set (or on --data SRC) and "
            "prints where the results are."
        ),
    )
    p.add_argument("output", nargs="?", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--data", metavar="SRC", help="a source data set of your own")
    p.add_argument("--template", metavar="FILE", help="template JSON (default: 128x128 RGB)")
    p.add_argument("-n", type=int, default=48, help="synthetic pairs to generate (default 48)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--overwrite", action="store_true", help="start again from scratch")
    p.set_defaults(func=run)


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(args: argparse.Namespace) -> int:
    from segkit.dataset import inspect_dataset, prepare_dataset
    from segkit.synthetic import make_synthetic_dataset, make_synthetic_sample
    from segkit.template import DatasetTemplate, SplitSpec, load_template, save_template

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    if args.data:
        source = Path(args.data)
    else:
        source = out / "source"
        if not source.exists() or args.overwrite:
            _step(f"1. synthetic IHC data set: {args.n} pairs of 256x256 -> {source}")
            make_synthetic_dataset(source, args.n, height=256, width=256, seed=0)
        else:
            _step(f"1. synthetic data set already at {source}")

    _step("2. dataset template")
    if args.template:
        template = load_template(args.template)
    else:
        template = DatasetTemplate(
            height=128, width=128, fit="stretch", split=SplitSpec(0.7, 0.15, 0.15, seed=0)
        )
    template_path = save_template(template, out / "template.json")
    print(template.to_json(), end="")
    print(f"written to {template_path}")

    _step(f"3. inspect {source}")
    report = inspect_dataset(source, mask_keyword=template.mask_keyword)
    print(report.format())

    prepared = out / "prepared"
    _step(f"4. prepare -> {prepared}")
    prep = prepare_dataset(source, prepared, template, overwrite=True, progress=True)
    print(prep.format())

    from segkit.training import TrainConfig, ensure_run

    _step(f"5. train a U-Net ({args.epochs} epochs on CPU or GPU)")
    config = TrainConfig(epochs=args.epochs, batch_size=8, depth=4, base_filters=16)
    run_ = ensure_run(
        prepared, config, runs_dir=out / "runs", run_id="demo", overwrite=args.overwrite
    )
    print(f"run folder: {run_.path}")

    from segkit.evaluation import evaluate

    _step("6. evaluate on the test part")
    result = evaluate(run_.path, prepared, split="test", output_dir=run_.path / "evaluation")
    print(json.dumps(result.summary, indent=2))

    _step("7. predict a large image (Gaussian-blended sliding window)")
    from segkit.evaluation import dice_score
    from segkit.imaging import read_image, write_image
    from segkit.inference import predict, save_mask, save_overlay
    from segkit.models import load_model

    model, info = load_model(run_.path)
    predictions = out / "predictions"
    # (image, true mask or None): Dice is printed only where the truth is known
    targets: list[tuple[Path, np.ndarray | None]] = [
        (source / pair["image"], None) for pair in report.pairs[:1]
    ]
    if not args.data:
        slide = make_synthetic_sample(1024, 1024, seed=999)
        slide_path = write_image(out / "slide_1024.png", slide.image)
        targets.append((slide_path, (slide.labels > 0).astype("uint8")))
    for image_path, truth in targets:
        image = read_image(image_path)
        mask = predict(model, image, info=info)
        mask_path = save_mask(predictions / f"{image_path.stem}.png", mask, info.num_classes)
        overlay = save_overlay(predictions / f"{image_path.stem}_overlay.png", image, mask)
        scored = "" if truth is None else f", Dice {dice_score(truth, mask):.3f}"
        print(f"{image_path} ({image.shape[1]}x{image.shape[0]}{scored}) -> {mask_path}, {overlay}")

    if not args.data:
        _step("8. Ki-67 score of the synthetic slide (nuclei separated, DAB threshold 0.2)")
        from segkit.ki67 import score_ki67

        scores = score_ki67([slide_path], out / "ki67", (model, info))
        s = scores[slide_path.stem].summary
        true_index = 100 * float(slide.positive.mean()) if slide.positive.size else 0.0
        print(
            f"{s.positive} positive, {s.negative} negative nuclei: Ki-67 index "
            f"{s.ki67_index:.1f} % (95 % CI {s.ki67_ci_low:.1f}-{s.ki67_ci_high:.1f}); the "
            f"generator's true index: {true_index:.1f} % over {slide.positive.size} nuclei"
        )
        print(f"written to {out / 'ki67'} (summary.csv, cells.csv, QuPath GeoJSON, overlay)")

    _step(f"done in {time.perf_counter() - started:.0f} s")
    print(f"figures:     {run_.path / 'figures'}")
    print(f"metrics:     {run_.path / 'evaluation'}")
    print(f"model:       {run_.path / 'model.keras'}")
    print(f"predictions: {out / 'predictions'}")
    if not args.data:
        print(f"ki67:        {out / 'ki67'}")
    return 0
