"""Sleep a trained run (Algorithm 1, MAIN): convert, sleep on PyTorch or Lava, convert back, save a new run."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neurovae.config import RunConfig
from neurovae.energy import EnergyReport, load_profile
from neurovae.energy.learning import LearningCounter, PlasticConv
from neurovae.errors import ConfigError
from neurovae.io import atomic_path
from neurovae.models.cvae import to_intensity
from neurovae.sleep.convert import SleepLayer, layer_shapes, to_ann, to_snn
from neurovae.sleep.lava_sleep import conv_as_dense, run_lava_sleep, tie_back
from neurovae.sleep.vae_sleep import VAESleepConfig, calibrate_thresholds, input_spikes, sleep_torch

BACKENDS = ("torch", "lava")

TABLE3 = {
    "celeba": {"input_rate_hz": 500.0, "duration": 200600, "thresholds": (15.0, 40.0, 23.0, 0.9),
               "ampa_scale": 2.19, "a_ltp": 0.013, "a_ltd": 0.019, "target_rate": 0.02},
    "mnist": {"input_rate_hz": 40.0, "duration": 48000, "thresholds": (36.18, 23.36), "ampa_scale": 2.19,
              "a_ltp": 0.0063, "a_ltd": 0.0069, "target_rate": 0.02},
}
"""Talafha 2020, Table 3, per dataset (Fashion-MNIST shares MNIST's column)."""


def table3_config(dataset: str, **overrides: Any) -> VAESleepConfig:
    """Table 3's sleep parameters for ``dataset``, with ``overrides`` (a bad value is a one-line ConfigError)."""
    column = TABLE3["celeba" if dataset == "celeba" else "mnist"]
    try:
        return VAESleepConfig(**{**column, **overrides})
    except TypeError as error:
        raise ConfigError(f"sleep parameters: {error}") from None


def sleep_lava(layers: list[SleepLayer], intensities: torch.Tensor, config: VAESleepConfig,
               progress: Callable[[], None] = lambda: None) -> None:
    """SLEEP on Lava (one chain), convolutions lowered to dense and tied back; ``layers`` change in place."""
    if config.batch != 1:
        raise ConfigError("the Lava sleep runs one chain (batch 1), as Algorithm 1 does; drop --batch")
    spikes = torch.cat(list(input_spikes(intensities, config)))
    forward, mirrors, taps = [], [], []
    for layer, shape in zip(layers, layer_shapes(layers, tuple(spikes.shape[1:]))[:-1], strict=True):
        dense, tap = conv_as_dense(layer, shape)
        mirror, _ = conv_as_dense(SleepLayer(layer.name, layer.mirror_name, layer.mirror_weight, layer.weight,
                                             layer.stride, layer.padding), shape)
        forward.append(dense)
        mirrors.append(mirror.T)
        taps.append(tap)
    slept, slept_mirrors = run_lava_sleep(forward, mirrors, spikes.flatten(1).numpy(),
                                          config.effective_thresholds(layers), config.rule)
    for layer, tap, before, after, mirror_before, mirror_after in zip(layers, taps, forward, slept, mirrors,
                                                                      slept_mirrors, strict=True):
        layer.weight = tie_back(layer.weight, before, after, tap)
        layer.mirror_weight = tie_back(layer.mirror_weight, mirror_before.T, mirror_after.T, tap)
    for _ in range(len(spikes)):
        progress()


def plastic_convolutions(layers: list[SleepLayer], input_shape: tuple[int, ...]) -> list[PlasticConv]:
    """The geometry of every sleeping convolution, for counting the sleep's operations."""
    shapes = layer_shapes(layers, input_shape)
    return [PlasticConv(tuple(layer.weight.shape), layer.stride, layer.padding, shape_in, shape_out)
            for layer, shape_in, shape_out in zip(layers, shapes[:-1], shapes[1:], strict=True)]


def sleep_model(model: nn.Module, images: torch.Tensor, config: VAESleepConfig, backend: str = "torch",
                progress: Callable[[], None] = lambda: None,
                calibrate: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """VAE-sleep of ``model`` on training ``images`` (in [-1, 1]); returns the slept copy and a summary.

    ``calibrate`` replaces the thresholds by those at which each layer fires at the target rate ``rho``.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown sleep backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    intensities = to_intensity(images.detach().cpu().float())
    layers = to_snn(model.cpu(), intensities)
    if calibrate:
        config = dataclasses.replace(config, thresholds=calibrate_thresholds(layers, intensities, config))
    before = [layer.weight.clone() for layer in layers]
    rates, energy = None, None
    if backend == "torch":
        counter = LearningCounter(plastic_convolutions(layers, tuple(intensities.shape[1:])))
        rates = sleep_torch(layers, intensities, config, progress, counter)
        energy = EnergyReport("vae-sleep", counter.compute(), load_profile("loihi1"), load_profile("ann_horowitz2014"),
                              backend="torch", precision="float",
                              notes=["a sample is one chain's whole sleep; synaptic updates count the feedforward "
                                     "and the mirrored decoder weights"]).to_dict()
    else:
        sleep_lava(layers, intensities, config, progress)
    summary = {
        "backend": backend,
        "sleep": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()},
        "layers": [{"name": layer.name, "mirror": layer.mirror_name, "scale": layer.scale,
                    "weight_change": (layer.weight - start).abs().mean().item(),
                    **({"firing_rate": rate} if rates else {})}
                   for layer, start, rate in zip(layers, before, rates or [None] * len(layers), strict=True)],
        **({"energy": energy} if energy else {}),
    }
    return to_ann(model, layers), summary


def save_slept_run(out: str | os.PathLike, config: RunConfig, model: nn.Module, epoch: int,
                   summary: dict[str, Any], source: str | os.PathLike | None = None) -> Path:
    """Write the slept model as a run that ``neurovae eval`` reads, plus ``sleep.json``.

    ``source``: the run that slept; its training history is kept (the slept model saw the same images).
    """
    from neurovae.train.checkpoint import RunPaths, init_run, save_checkpoint

    paths = init_run(out, config)
    if source is not None and RunPaths(Path(source)).history.is_file():
        shutil.copyfile(RunPaths(Path(source)).history, paths.history)
    save_checkpoint(paths, model, None, epoch, {"sleep": summary})
    with atomic_path(paths.root / "sleep.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return paths.root
