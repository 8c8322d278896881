"""``segkit verify DST``: check a prepared data set against its manifest."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the ``verify`` subcommand to ``sub``."""
    p = sub.add_parser(
        "verify",
        help="check a prepared data set against its manifest (missing, changed, extra files)",
        description=(
            "Check every file of DST against the SHA-256 in its manifest.json and list files "
            "that are missing, changed or not in the manifest. Exits 1 on any difference. "
            "Files unchanged since the last check (size, times, inode) are not hashed again."
        ),
    )
    p.add_argument("dst", help="prepared data set folder (written by `segkit prepare`)")
    p.add_argument("--full", action="store_true", help="hash every file, ignoring the cache")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify ``args.dst``; 0 when it matches its manifest, 1 otherwise."""
    from segkit.dataset.verify import verify_dataset

    report = verify_dataset(args.dst, use_cache=not args.full)
    if args.json:
        import json

        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.format(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1
