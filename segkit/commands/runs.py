"""``segkit runs``: list run folders, show one, compare several side by side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from segkit.runs import compare_runs, format_comparison, load_run, scan_runs
from segkit.runs.layout import CONFIG

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list, show and compare training runs")
    p.add_argument("--runs-dir", default="runs", help="folder holding the runs (default: runs)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="one line per run: status, epochs, val/test Dice")
    show = actions.add_parser("show", help="config, data set, environment and metrics of a run")
    show.add_argument("run", help="run id (under --runs-dir) or run folder")
    compare = actions.add_parser("compare", help="runs side by side (settings that differ)")
    compare.add_argument("runs", nargs="+", help="run ids or run folders")
    compare.add_argument("--all", action="store_true", help="show every setting")
    for action in (listing, show, compare):  # --runs-dir also after the action
        action.add_argument("--runs-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=run, action=None)


def _resolve(runs_dir: str, name: str) -> Path:
    p = Path(name)
    if (p / CONFIG).is_file():
        return p
    candidate = Path(runs_dir) / name
    if (candidate / CONFIG).is_file():
        return candidate
    raise FileNotFoundError(f"no run {name!r} (looked in {p} and {candidate})")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def run(args: argparse.Namespace) -> int:
    action = args.action or "list"
    if action == "list":
        runs, unreadable = scan_runs(args.runs_dir)
        for path, why in unreadable:
            print(f"segkit runs: warning: skipped {path.name}: {why}", file=sys.stderr)
        if not runs:
            print(f"no runs in {args.runs_dir}")
            return 0
        header = f"{'run':<28} {'status':<11} {'epochs':>7} {'val_dice':>9} {'test_dice':>9}"
        print(header)
        for r in runs:
            s = r.summary()
            print(
                f"{r.run_id:<28} {s['status']:<11} {s['progress']:>7} "
                f"{_fmt(s.get('val_dice')):>9} {_fmt(s.get('test_dice')):>9}"
            )
        return 0
    if action == "show":
        r = load_run(_resolve(args.runs_dir, args.run))
        print(f"run:      {r.path}")
        print(f"status:   {r.status} ({r.epochs_done}/{r.config.epochs} epochs)")
        print(f"dataset:  {r.dataset.get('path', '?')} (fingerprint {r.fingerprint[:12]})")
        git = r.environment.get("git") or {}
        print(
            f"code:     segkit {r.environment.get('segkit_version', '?')}"
            + (f", git {git.get('commit', '')[:10]}" if git else "")
            + f", TensorFlow {r.environment.get('tensorflow', '?')}"
        )
        print(f"model:    {r.model_path if r.model_path.is_file() else '-'}")
        print("config:")
        for key, value in r.config.to_dict().items():
            print(f"  {key:<20} {value}")
        print("metrics:")
        print("  " + json.dumps(r.metrics, indent=2).replace("\n", "\n  "))
        return 0
    runs = [load_run(_resolve(args.runs_dir, name)) for name in args.runs]
    print(format_comparison(compare_runs(runs, all_fields=args.all)))
    return 0
