"""``neurovae`` command line: thin subcommands that parse, call the library and print.

Errors a user can cause are :class:`~neurovae.errors.NeurovaeError` s; they are printed as one line
(``neurovae: error: ...``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from neurovae.cli import compare, demo, deploy, energy, evaluate, sleep, train
from neurovae.errors import NeurovaeError

SUBCOMMANDS = (train, evaluate, compare, deploy, energy, sleep, demo)


def package_version() -> str:
    """The installed distribution's version (a source tree run without installing has none)."""
    try:
        return version("neurovae")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (each subcommand module adds its own parsers)."""
    parser = argparse.ArgumentParser(
        prog="neurovae",
        description="Spiking VAEs from snnTorch to Lava: train, evaluate, export, simulate, sleep, count energy.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurovae`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except NeurovaeError as error:
        print(f"neurovae: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurovae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
