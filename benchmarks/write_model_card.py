"""Write ``segkit/models/bundled/nuclei/MODEL_CARD.md`` from the recipe's run and the quality run.

The card's text is ``benchmarks/nuclei_model_card.md``; its figures come from the training run
(``--run``) and from ``benchmarks/quality_cells.py --json`` (``--quality``), never typed by hand.
The run's small files (config, history, metrics, data set record) are copied to
``benchmarks/results/nuclei_model_run/``, and those of the second stage
(``--finetune-run``, ``benchmarks/finetune_nuclei_model.py``) to
``benchmarks/results/nuclei_model_finetune_run/``.

Usage::

    python benchmarks/quality_cells.py --json bench_out/quality_cells.json
    python benchmarks/write_model_card.py --run bench_out/nuclei/runs/nuclei \\
        --quality bench_out/quality_cells.json --minutes 62
    # new scores of the shipped model (its run already recorded):
    python benchmarks/write_model_card.py --run benchmarks/results/nuclei_model_run \\
        --quality bench_out/quality_cells.json --minutes 59
    # after the second stage:
    python benchmarks/write_model_card.py --run benchmarks/results/nuclei_model_run \\
        --finetune-run bench_out/nuclei_ft/runs/nuclei_ft --quality bench_out/quality_cells.json \\
        --minutes 50 --finetune-minutes 22
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CARD = REPO / "segkit" / "models" / "bundled" / "nuclei" / "MODEL_CARD.md"
RECORD = REPO / "benchmarks" / "results" / "nuclei_model_run"
FINETUNE_RECORD = REPO / "benchmarks" / "results" / "nuclei_model_finetune_run"
SMALL_FILES = ("config.json", "history.csv", "metrics.json", "dataset.json", "template.json",
               "environment.json")  # fmt: skip


def scores_table(quality: dict) -> str:
    """The Markdown tables of the Ki-67 and MoNuSeg scores."""
    lines = [
        "| data | method | images | Ki-67 index MAE (pp) | worst | "
        "detection F1 | worst | F1 tumour |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for s in quality["ki67"]:
        lines.append(
            f"| {s['set']} | {s['method']} | {s['images']} | {s['index_mae']:.1f} | "
            f"{s['index_worst']:.1f} ({s['worst_image']}) | {s['f1_mean']:.3f} | "
            f"{s['f1_worst']:.3f} | {s.get('f1_tumour', float('nan')):.3f} |"
        )
    lines += ["", "| MoNuSeg, 4 held-out slides with polygons | AJI | PQ | F1 at IoU 0.5 |",
              "|---|---|---|---|"]  # fmt: skip
    for method, m in quality["monuseg"].items():
        lines.append(f"| {method} of the model's output | {m['aji']:.3f} | {m['pq']:.3f} | "
                     f"{m['f1']:.3f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--quality", type=Path, required=True)
    ap.add_argument("--minutes", type=float, required=True, help="training wall time, in all")
    ap.add_argument("--finetune-run", type=Path, default=FINETUNE_RECORD, help="second stage")
    ap.add_argument("--finetune-minutes", type=float, help="its wall time (default: recorded)")
    args = ap.parse_args()
    metrics = json.loads((args.run / "metrics.json").read_text())
    tuned = json.loads((args.finetune_run / "metrics.json").read_text())
    tuned_minutes = args.finetune_minutes
    if tuned_minutes is None:
        tuned_minutes = json.loads((FINETUNE_RECORD / "minutes.json").read_text())["minutes"]
    quality = json.loads(args.quality.read_text())
    import keras

    params = keras.models.load_model(CARD.parent / "model.keras").count_params()
    text = (REPO / "benchmarks" / "nuclei_model_card.md").read_text()
    text = (
        text.replace("__PARAMS__", f"{params:,}")
        .replace("__EPOCHS__", str(metrics["epochs"]))
        .replace("__BEST__", str(metrics["best_epoch"]))
        .replace("__MINUTES__", f"{args.minutes:.0f}")
        .replace("__FT_EPOCHS__", str(tuned["epochs"]))
        .replace("__FT_BEST__", str(tuned["best_epoch"]))
        .replace("__FT_MINUTES__", f"{tuned_minutes:.0f}")
        .replace("__SCORES__", scores_table(quality))
    )
    CARD.write_text(text, encoding="utf-8")
    RECORD.mkdir(parents=True, exist_ok=True)
    for name in SMALL_FILES:  # --run benchmarks/results/nuclei_model_run: new scores only
        if (args.run / name).is_file() and args.run.resolve() != RECORD.resolve():
            shutil.copyfile(args.run / name, RECORD / name)
    FINETUNE_RECORD.mkdir(parents=True, exist_ok=True)
    for name in SMALL_FILES:
        if (
            args.finetune_run / name
        ).is_file() and args.finetune_run.resolve() != FINETUNE_RECORD.resolve():
            shutil.copyfile(args.finetune_run / name, FINETUNE_RECORD / name)
    minutes = {"minutes": tuned_minutes}
    (FINETUNE_RECORD / "minutes.json").write_text(json.dumps(minutes) + "\n")
    (RECORD / "quality_cells.json").write_text(json.dumps(quality, indent=1) + "\n")
    print(f"wrote {CARD} and {RECORD}")


if __name__ == "__main__":
    main()
