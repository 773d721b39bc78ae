"""Sleep a trained run (Algorithm 1, MAIN): convert, sleep (PyTorch, the emulator or Lava), convert back, save a run."""

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
from neurovae.sleep.convert import ConversionError, SleepLayer, layer_shapes, to_ann, to_snn
from neurovae.sleep.on_chip import PRECISIONS, apply_sleep, emulate_fixed, lower
from neurovae.sleep.report import sleep_warnings
from neurovae.sleep.vae_sleep import VAESleepConfig, calibrate_thresholds, input_spikes, sleep_torch

BACKENDS = ("torch", "emulator", "lava")
"""torch: the batched reference (shared convolution weights, float); emulator: Loihi's fixed point as Lava runs it,
bit for bit, in PyTorch; lava: Lava's learning engine itself (float or fixed point)."""

TABLE3 = {
    "celeba": {"input_rate_hz": 500.0, "duration": 200600, "thresholds": (15.0, 40.0, 23.0, 0.9),
               "ampa_scale": 2.19, "a_ltp": 0.013, "a_ltd": 0.019, "target_rate": 0.02},
    "mnist": {"input_rate_hz": 40.0, "duration": 48000, "thresholds": (36.18, 23.36), "ampa_scale": 2.19,
              "a_ltp": 0.0063, "a_ltd": 0.0069, "target_rate": 0.02},
}
"""Talafha 2020, Table 3, per dataset (Fashion-MNIST shares MNIST's column)."""


SLEEPING_MODELS = ("cvae", "vsc")
"""Models whose bias-free ReLU convolutions each have a mirroring transposed convolution (see convert.py)."""


def check_model(run: str | os.PathLike, model_name: str) -> None:
    """Refuse a run of another model before any work, naming it (the conversion would only count its layers)."""
    if model_name not in SLEEPING_MODELS:
        raise ConversionError(f"{run} is a run of model {model_name}, but sleep needs a "
                              f"{' or '.join(SLEEPING_MODELS)} run; train one from configs/cvae_*.yaml or "
                              "configs/vsc_*.yaml")


def table3_config(dataset: str, **overrides: Any) -> VAESleepConfig:
    """Table 3's sleep parameters for ``dataset``, with ``overrides`` (a bad value is a one-line ConfigError)."""
    column = TABLE3["celeba" if dataset == "celeba" else "mnist"]
    try:
        return VAESleepConfig(**{**column, **overrides})
    except TypeError as error:
        raise ConfigError(f"sleep parameters: {error}") from None


def default_precision(backend: str) -> str:
    """The emulator exists for Loihi's fixed point; torch and Lava sleep in floating point unless told."""
    return "fixed" if backend == "emulator" else "float"


def check_backend(backend: str, precision: str, batch: int = 1) -> None:
    """Refuse a backend / precision / batch combination that does not exist (before any work), saying which do."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown sleep backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if backend == "torch" and precision == "fixed":
        raise ConfigError("the batched PyTorch sleep is floating point; Loihi's fixed point runs on "
                          "--backend emulator (or lava)")
    if backend == "emulator" and precision == "float":
        raise ConfigError("the emulator runs Loihi's fixed point; the floating-point sleep is --backend torch "
                          "(or lava)")
    if backend != "torch" and batch != 1:
        raise ConfigError(f"the {backend} sleep runs one chain (batch 1), as Algorithm 1 does; drop --batch")


def sleep_on_chip(layers: list[SleepLayer], intensities: torch.Tensor, config: VAESleepConfig, backend: str,
                  precision: str, progress: Callable[[], None] = lambda: None,
                  counter: LearningCounter | None = None,
                  notice: Callable[[str], None] = lambda text: None) -> tuple[list[dict[str, Any]], list[float]]:
    """SLEEP as Loihi runs it (one chain, convolutions lowered, tied back), on Lava or its emulator.

    ``layers`` change in place. Returns a description of each layer on the chip and the layers' firing rates.
    Lava's sleep is slow: ``notice`` gets its estimated time before it starts. The caller has checked the
    combination (:func:`check_backend`).
    """
    device = lower(layers, tuple(intensities.shape[1:]), config.effective_thresholds(layers), config.rule, precision,
                   config.leak)
    if backend == "emulator":
        forward, mirrors, rates = emulate_fixed(device, input_spikes(intensities, config), progress, counter)
    else:
        from neurovae.sleep.lava_sleep import estimated_seconds, run_lava_sleep

        spikes = torch.cat(list(input_spikes(intensities, config)))  # Lava's RingBuffer holds the whole input
        notice(f"Lava's learning engine: {len(spikes):,} steps x {len(device)} layers "
               f"({sum(chip.taps.size for chip in device):,} lowered synapse entries per direction) should take about "
               f"{_duration(estimated_seconds(device, len(spikes)))} on a 2-core CPU; the emulator runs the same "
               "fixed point bit-exact and far faster (--backend emulator)")
        forward, mirrors, rates = run_lava_sleep(device, spikes.flatten(1).numpy(), progress)
    apply_sleep(layers, device, forward, mirrors)
    described = [{"unit": chip.unit, "threshold": chip.threshold,
                  **({"fixed_point": chip.fixed_rule.summary()} if chip.fixed_rule else {})} for chip in device]
    return described, rates


def _duration(seconds: float) -> str:
    """``40 s``, ``12 min``, ``3.5 h``: a rough time, in the unit a person reads best."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def plastic_convolutions(layers: list[SleepLayer], input_shape: tuple[int, ...]) -> list[PlasticConv]:
    """The geometry of every sleeping convolution, for counting the sleep's operations."""
    shapes = layer_shapes(layers, input_shape)
    return [PlasticConv(tuple(layer.weight.shape), layer.stride, layer.padding, shape_in, shape_out)
            for layer, shape_in, shape_out in zip(layers, shapes[:-1], shapes[1:], strict=True)]


def sleep_model(model: nn.Module, images: torch.Tensor, config: VAESleepConfig, backend: str = "torch",
                progress: Callable[[], None] = lambda: None, calibrate: bool = False,
                precision: str | None = None,
                notice: Callable[[str], None] = lambda text: None) -> tuple[nn.Module, dict[str, Any]]:
    """VAE-sleep of ``model`` on training ``images`` (in [-1, 1]); returns the slept copy and a summary.

    ``calibrate`` replaces the thresholds by those at which each layer fires at the target rate ``rho``;
    ``backend`` and ``precision`` (default: :func:`default_precision`): see :data:`BACKENDS`; ``notice`` gets
    Lava's time estimate. The summary's ``warnings`` name the layers that never fired or did not change
    (:func:`neurovae.sleep.report.sleep_warnings`).
    """
    precision = precision or default_precision(backend)
    check_backend(backend, precision, config.batch)
    intensities = to_intensity(images.detach().cpu().float())
    layers = to_snn(model.cpu(), intensities)
    if calibrate:
        config = dataclasses.replace(config, thresholds=calibrate_thresholds(layers, intensities, config))
    before = [layer.weight.clone() for layer in layers]
    counter = None if backend == "lava" else LearningCounter(plastic_convolutions(layers, tuple(intensities.shape[1:])))
    on_chip: list[dict[str, Any]] = [{} for _ in layers]
    if backend == "torch":
        rates = sleep_torch(layers, intensities, config, progress, counter)
    else:
        on_chip, rates = sleep_on_chip(layers, intensities, config, backend, precision, progress, counter, notice)
    energy = None if counter is None else EnergyReport(
        "vae-sleep", counter.compute(), load_profile("loihi1"), load_profile("ann_horowitz2014"), backend=backend,
        precision=precision, notes=["a sample is one chain's whole sleep; synaptic updates count the feedforward "
                                    "and the mirrored decoder weights"]).to_dict()
    summary = {
        "backend": backend,
        "precision": precision,
        "sleep": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()},
        "layers": [{"name": layer.name, "mirror": layer.mirror_name, "scale": layer.scale, "firing_rate": rate,
                    "weight_change": (layer.weight - start).abs().mean().item(),
                    "weight_magnitude": start.abs().mean().item(), **({"on_chip": described} if described else {})}
                   for layer, start, rate, described in zip(layers, before, rates, on_chip, strict=True)],
        **({"energy": energy} if energy else {}),
    }
    summary["warnings"] = sleep_warnings(summary["layers"])
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
