"""Helpers shared by the subcommands: config loading with CLI overrides, dataset opening, output checks."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from neurovae.errors import OutputError
from neurovae.io import check_folder
from neurovae.runs import open_dataset

__all__ = ["add_data_argument", "add_force_argument", "check_output", "open_dataset", "overrides"]


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data DIR``: folder with the dataset's standard files."""
    parser.add_argument("--data", metavar="DIR", help="folder with the dataset's standard files "
                        "(default: the config's data.root, or the dataset's usual place)")


def overrides(**values: Any) -> dict[str, Any]:
    """``section.key -> value`` overrides for the options the user actually gave."""
    return {key: value for key, value in values.items() if value is not None}


def add_force_argument(parser: argparse.ArgumentParser) -> None:
    """``--force``: replace an existing output (without it, a command refuses before computing anything)."""
    parser.add_argument("--force", action="store_true", help="replace existing output")


def check_output(*paths: str | os.PathLike, force: bool, folder: bool = False) -> None:
    """Refuse, in one line, to write ``paths`` over existing output without ``--force``, or where a file stands.

    Runs before the work, so a mistake costs no time and earlier results are not silently replaced. ``folder``:
    the paths are output folders, where only one with something in it counts as existing output.
    """
    for path in map(Path, paths):
        check_folder(path if folder else path.parent)
        if not folder and path.is_dir():
            raise OutputError(f"{path} is a folder; give a file name")
        if not force and path.exists() and not (folder and not any(path.iterdir())):
            raise OutputError(f"{path} exists; pass --force to replace it")
