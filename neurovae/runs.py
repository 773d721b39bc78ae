"""A trained run as Python objects: its model and config (:func:`load_run`), and the dataset its config names."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from torch import nn
from torch.utils.data import Dataset

from neurovae.config import RunConfig
from neurovae.errors import ConfigError

if TYPE_CHECKING:
    from neurovae.train.checkpoint import RunPaths


def load_run(run: str | os.PathLike) -> tuple[nn.Module, RunConfig]:
    """The trained model of a run folder (or its ``checkpoint.pt``), in eval mode, and the run's config.

    A checkpoint that does not fit the config (an edited ``config.yaml``) is a one-line
    :class:`~neurovae.errors.CheckpointError`.

    Example:
        >>> model, config = load_run("runs/demo/run")  # doctest: +SKIP
        >>> network = export_model(model, "decoder")    # doctest: +SKIP
    """
    from neurovae.train.checkpoint import open_run

    paths, config, state = open_run(run)
    return restore_model(paths, config, state), config


def restore_model(paths: RunPaths, config: RunConfig, state: dict[str, Any]) -> nn.Module:
    """The model ``config`` describes with the weights of a checkpoint already read (``open_run``), in eval mode.

    For commands that check the run (its model, its output folder) before building the model.
    """
    from neurovae.train.checkpoint import restore_state
    from neurovae.train.loop import build_model

    model = build_model(config)
    restore_state(paths.checkpoint, model, None, state, f"was {paths.config} edited after training?")
    return model.eval()


def open_dataset(config: RunConfig, split: str, data_dir: str | os.PathLike | None = None,
                 limit: int | None = None) -> Dataset:
    """The ``split`` (``train`` / ``test``) of the dataset ``config`` names, checked against the model's input.

    Args:
        config: a run's config (:func:`~neurovae.config.load_config`, :func:`load_run`).
        split: ``train`` or ``test``.
        data_dir: folder with the dataset's standard files (None: the config's ``data.root``, or its usual place).
        limit: at most this many images (None: all).
    """
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
