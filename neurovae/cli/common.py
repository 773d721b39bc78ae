"""Helpers shared by the subcommands: config loading with CLI overrides, dataset opening."""

from __future__ import annotations

import argparse
from typing import Any

from torch.utils.data import Dataset

from neurovae.config import RunConfig
from neurovae.errors import ConfigError


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data DIR``: folder with the dataset's standard files."""
    parser.add_argument("--data", metavar="DIR", help="folder with the dataset's standard files "
                        "(default: the config's data.root, or the dataset's usual place)")


def open_dataset(config: RunConfig, split: str, data_dir: str | None, limit: int | None) -> Dataset:
    """The configured dataset's ``split``, checked against the model's input."""
    from neurovae.data import load_dataset

    data = config.data
    dataset = load_dataset(data.dataset, data_dir or data.root, split, image_size=data.image_size, limit=limit)
    model = config.model
    expected = (getattr(model, "in_channels", dataset.channels), getattr(model, "image_size", dataset.image_size))
    if (dataset.channels, dataset.image_size) != expected:
        raise ConfigError(f"{data.dataset} gives {dataset.channels}x{dataset.image_size}x{dataset.image_size} images "
                          f"but model {config.model_name} expects {expected[0]}x{expected[1]}x{expected[1]}; "
                          "fix model.in_channels / model.image_size")
    return dataset


def overrides(**values: Any) -> dict[str, Any]:
    """``section.key -> value`` overrides for the options the user actually gave."""
    return {key: value for key, value in values.items() if value is not None}
