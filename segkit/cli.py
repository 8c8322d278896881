"""The ``segkit`` command line: one subcommand per step of the life cycle.

Each subcommand lives in its own module under :mod:`segkit.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function that takes
the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from segkit import __version__
from segkit.errors import describe_error

__all__ = ["main", "build_parser"]

# Subcommand modules, in the order ``segkit --help`` lists them.
COMMAND_MODULES = [
    "segkit.commands.template",
    "segkit.commands.synth",
    "segkit.commands.inspect",
    "segkit.commands.prepare",
    "segkit.commands.verify",
    "segkit.commands.train",
    "segkit.commands.evaluate",
    "segkit.commands.predict",
    "segkit.commands.ki67",
    "segkit.commands.export",
    "segkit.commands.runs",
    "segkit.commands.ui",
    "segkit.commands.remote",
    "segkit.commands.demo",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``segkit`` parser with every subcommand this installation has."""
    parser = argparse.ArgumentParser(
        prog="segkit",
        description="From a folder of biomedical images and masks to a trained, evaluated U-Net.",
    )
    parser.add_argument("--version", action="version", version=f"segkit {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error (also SEGKIT_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that subcommand is not part of this installation
                continue
            raise
        module.register(sub)
    return parser


def _debug(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("SEGKIT_DEBUG", "") not in (
        "",
        "0",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    An ordinary mistake (bad input, a missing or unreadable file, a full disk) is reported as
    one line on stderr that names the path and the problem, with exit code 1; ``--debug`` or
    ``SEGKIT_DEBUG=1`` shows the traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("segkit: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, RecursionError, MemoryError) as exc:
        if _debug(args):
            raise
        print(f"segkit {args.command}: error: {describe_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
