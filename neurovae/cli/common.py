"""Helpers shared by the subcommands: the flags every command spells alike, config overrides, output checks.

One spelling per meaning, on every command: ``-o/--out`` for what a command writes, ``-n/--samples`` for how many
samples it processes, ``--precision float|fixed`` for the arithmetic, ``--set section.key=value`` for config keys.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from neurovae.errors import ConfigError, OutputError
from neurovae.io import check_folder
from neurovae.runs import open_dataset

__all__ = ["add_data_argument", "add_force_argument", "add_out_argument", "add_precision_argument",
           "add_samples_argument", "add_set_argument", "check_output", "config_overrides", "open_dataset",
           "overrides"]

PRECISIONS = ("float", "fixed")


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data DIR``: folder with the dataset's standard files."""
    parser.add_argument("--data", metavar="DIR", help="folder with the dataset's standard files "
                        "(default: the config's data.root, or the dataset's usual place)")


def add_out_argument(parser: argparse.ArgumentParser, help: str, **options: Any) -> None:
    """``-o/--out``: where the command writes (a file, a folder or a run directory)."""
    parser.add_argument("-o", "--out", help=help, **options)


def add_samples_argument(parser: argparse.ArgumentParser, help: str, **options: Any) -> None:
    """``-n/--samples``: how many samples (images) the command processes."""
    parser.add_argument("-n", "--samples", type=int, metavar="N", help=help, **options)


class _DeprecatedFlag(argparse.Action):
    """A hidden old spelling that sets ``dest`` to ``const`` and says, in one line, which flag replaces it."""

    def __init__(self, option_strings: Sequence[str], dest: str, const: Any, replacement: str) -> None:
        super().__init__(option_strings, dest, nargs=0, const=const, default=argparse.SUPPRESS,
                         help=argparse.SUPPRESS)
        self.replacement = replacement

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"neurovae: note: {option_string} is deprecated and goes in the next release; use {self.replacement}",
              file=sys.stderr)
        setattr(namespace, self.dest, self.const)


def add_precision_argument(parser: argparse.ArgumentParser, help: str, default: str | None = "float",
                           old_flag: str | None = None) -> None:
    """``--precision float|fixed``; ``old_flag``: a former spelling of ``--precision fixed``, kept for one release."""
    parser.add_argument("--precision", choices=PRECISIONS, default=default, help=help)
    if old_flag:
        parser.add_argument(old_flag, action=_DeprecatedFlag, dest="precision", const="fixed",
                            replacement="--precision fixed")


def add_set_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable): override any allowed config key for this command only."""
    parser.add_argument("--set", action="append", default=[], dest="settings", metavar="KEY=VALUE", help=help)


def overrides(**values: Any) -> dict[str, Any]:
    """``section.key -> value`` overrides for the options the user actually gave."""
    return {key: value for key, value in values.items() if value is not None}


def config_overrides(settings: Sequence[str], named: dict[str, Any],
                     allowed: Sequence[str] = ("model.", "data.", "train.")) -> dict[str, Any]:
    """``section.key -> value`` from ``--set KEY=VALUE`` (values read as YAML scalars) and the named flags given.

    ``allowed``: sections (``data.``) or single keys (``train.seed``) the command may change. Keys and values are
    then checked by the strict config loader; a key set both by ``--set`` and by its own flag is ambiguous.
    """
    values = {}
    for setting in settings:
        key, equals, text = setting.partition("=")
        if not equals or "." not in key.strip(".") or " " in key:
            raise ConfigError(f"--set {setting}: give KEY=VALUE with KEY as section.key, e.g. --set train.lr=1e-3")
        if not any(key == rule or (rule.endswith(".") and key.startswith(rule)) for rule in allowed):
            keys = [rule + "*" if rule.endswith(".") else rule for rule in allowed]
            raise ConfigError(f"--set {key}: this command may set only {', '.join(keys)}")
        try:
            values[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--set {setting}: {text!r} is not a YAML value") from None
    given = overrides(**named)
    twice = sorted(set(values) & set(given))
    if twice:
        raise ConfigError(f"--set {twice[0]} and the flag for {twice[0]} both given; give one")
    return {**values, **given}


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
