"""A search for the Tadros sleep's settings on Optuna's TPE sampler, judged on held-out training images.

The paper names its levers (stronger leak and AMPA current, noisy input from the mean image, thresholds that
fall during sleep, reduced inhibition) but not their values, and the authors tune theirs per dataset by search.
The awake network is learnt once; every trial sleeps a copy of it and labels and tests the slept copy on a
validation split of training images that neither learning nor labelling saw: clean, under Gaussian pixel
noise and under blur. Objective: the mean accuracy gain over the awake network, in percentage points, over the
three conditions and the network copies (seeds); no sleep scores 0. Diehl & Cook's normalization after sleep
keeps every neuron's weight budget, so no weight-change bound is needed. Seeded (the sampler, the sleep's
input and the test spikes), a search gives the same trials every time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from neurovae.errors import ConfigError
from neurovae.sleep.search import seeded_study
from neurovae.sleep.stdp_network.corruptions import add_gaussian_noise, gaussian_blur
from neurovae.sleep.stdp_network.labels import label_and_score
from neurovae.sleep.stdp_network.network import DiehlCookNetwork
from neurovae.sleep.stdp_network.params import SleepParams
from neurovae.sleep.stdp_network.sleep import sleep


@dataclass(frozen=True)
class TadrosSearchSpace:
    """The ranges searched (log scale for time constants, duration and rate; linear for the scalings)."""

    inhibition_scale: tuple[float, float] = (0.0, 1.0)
    theta_tau: tuple[float, float] = (2_000.0, 200_000.0)  # ms; 1e5 and above is barely a decay in 20 s
    leak_scale: tuple[float, float] = (1.0, 4.0)
    ampa_scale: tuple[float, float] = (1.0, 4.0)
    duration: tuple[float, float] = (5_000.0, 40_000.0)  # ms
    max_rate: tuple[float, float] = (20.0, 130.0)  # Hz for a white pixel of the mean image

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            low, high = getattr(self, field.name)
            if not 0 <= low <= high or (field.name not in ("inhibition_scale",) and low <= 0):
                raise ConfigError(f"search range {field.name} must be low <= high (positive on a log scale), got "
                                  f"{low}, {high}")

    def suggest(self, trial: Any) -> SleepParams:
        """One sleep setting from an Optuna trial."""
        return SleepParams(
            inhibition_scale=trial.suggest_float("inhibition_scale", *self.inhibition_scale),
            theta_tau=trial.suggest_float("theta_tau", *self.theta_tau, log=True),
            leak_scale=trial.suggest_float("leak_scale", *self.leak_scale),
            ampa_scale=trial.suggest_float("ampa_scale", *self.ampa_scale),
            duration=trial.suggest_float("duration", *self.duration, log=True),
            max_rate=trial.suggest_float("max_rate", *self.max_rate, log=True))


@dataclass(frozen=True)
class TadrosValidation:
    """Held-out training images: one part labels the neurons, the other is classified clean and corrupted."""

    label_images: torch.Tensor
    label_targets: torch.Tensor
    images: torch.Tensor
    targets: torch.Tensor
    noise_sigma: float = 0.3
    blur_sigma: float = 1.5

    def conditions(self, seed: int) -> dict[str, torch.Tensor]:
        """The validation images clean, noisy and blurred (the noise drawn from ``seed``)."""
        noisy = add_gaussian_noise(self.images, self.noise_sigma, torch.Generator().manual_seed(seed))
        return {"clean": self.images, f"noise {self.noise_sigma}": noisy,
                f"blur {self.blur_sigma}": gaussian_blur(self.images, self.blur_sigma)}

    def measure(self, network: DiehlCookNetwork, seed: int) -> dict[str, list[float]]:
        """Accuracy of every network copy under each condition; the test spikes are drawn from ``seed``."""
        return label_and_score(network, (self.label_images, self.label_targets), self.conditions(seed),
                               self.targets, torch.Generator().manual_seed(seed))


def accuracy_gain(slept: dict[str, list[float]], awake: dict[str, list[float]]) -> float:
    """The objective: mean accuracy gain in percentage points over the conditions and the copies."""
    gains = [after - before for name in awake for after, before in zip(slept[name], awake[name], strict=True)]
    return 100 * sum(gains) / len(gains)


def run_tadros_search(network: DiehlCookNetwork, mean_image: torch.Tensor, validation: TadrosValidation,
                      trials: int, seed: int = 0, space: TadrosSearchSpace | None = None,
                      progress: Callable[[dict[str, Any]], None] = lambda record: None) -> dict[str, Any]:
    """Search ``trials`` sleep settings for the awake ``network`` (not changed); returns every trial.

    Args:
        network: the awake network (its copies are the seeds).
        mean_image: the mean training image each copy learnt from, ``[n_input]`` or ``[copies, n_input]``.
        validation: the held-out split the slept copies are judged on.
        trials: how many settings to try.
        seed: seed of the sampler, the sleep's input spikes and the validation's noise and test spikes.
        space: the ranges (default :class:`TadrosSearchSpace`).
        progress: called with each trial's record when it is done.
    """
    study = seeded_study(trials, seed)
    space = space or TadrosSearchSpace()
    awake = validation.measure(network, seed)
    records: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        params = space.suggest(trial)
        slept = network.clone()
        counts = sleep(slept, mean_image, params, torch.Generator().manual_seed(seed * 1_000_003 + trial.number))
        figures = validation.measure(slept, seed)
        change = slept.theta - network.theta
        record = {"trial": trial.number, "state": "done", "feasible": True,
                  "params": {name: value for name, value in dataclasses.asdict(params).items()},
                  "objective": accuracy_gain(figures, awake), "figures": figures,
                  "sleep_spikes_per_neuron": float(counts.mean()), "theta_change_mean": float(change.mean()),
                  "thresholds_down_fraction": float((change < 0).float().mean())}
        records.append(record)
        progress(record)
        return record["objective"]

    study.optimize(objective, n_trials=trials)
    return {"seed": seed, "trials_asked": trials, "max_relative_change": None,
            "objective_label": "accuracy gain over no sleep (points)",
            "space": dataclasses.asdict(space), "awake": awake, "copies": network.copies,
            "validation_images": len(validation.images), "label_images": len(validation.label_images),
            "best": max(records, key=lambda r: r["objective"]), "trials": records}
