"""A search for VAE-sleep settings that help, on Optuna's TPE sampler: sleep on the emulator, judge on noisy inputs.

Table 3's settings leave a trained CVAE's layers all but silent, and settings that make them fire wipe the weights
out (README, "Sleep: VAE-sleep"); the authors' own sleep code tunes its settings per dataset by search. This
searches the settings the code has: the thresholds (one scale on Table 3's), the input encoding (``rate``:
a pixel fires with probability ``intensity x rate x dt``; ``intensity``: with probability ``intensity``, the
image read as spike probabilities) and rate, the STDP steps ``a_LTP`` / ``a_LTD``, the duration and the neurons'
voltage leak (VAE-sleep's network has no inhibition; the leak is its one decay). Every trial sleeps the model in
Loihi's fixed point on the emulator (bit-exact with Lava's ``fixed_pt``), then measures the slept model on a
validation split under noise (:func:`neurovae.evaluate.robustness.robustness`: pixel noise sigma 0.1-0.3 and
noise on the latent code).

Objective: the relative gain over the awake model, in percent, averaged over the noise conditions and over
PSNR and probe accuracy (so 1 % better reconstruction counts as much as 1 % better classification); no sleep
scores 0. A sleep may move each layer's weights by at most :data:`MAX_RELATIVE_CHANGE` of their mean magnitude
(a constraint that TPE respects): Table 3's sleep moved the trained CVAE's first layer by 8 % of its mean |W|
and cost 1.2 dB; thresholds tuned to rho moved it by 45 % and wiped the reconstructions out. A sleep that is to
refine what waking learnt, not to overwrite it, stays within about a tenth. Seeded (the sampler, the sleep's
input spikes and the noise), a search gives the same trials every time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neurovae.errors import ConfigError, NeurovaeError
from neurovae.evaluate.robustness import robustness
from neurovae.sleep.report import relative_change
from neurovae.sleep.run import sleep_model
from neurovae.sleep.vae_sleep import VAESleepConfig

MAX_RELATIVE_CHANGE = 0.1
"""The largest mean |dW| / mean |W| a layer may see in a feasible sleep (see the module's docstring)."""

ENCODINGS = ("rate", "intensity")


@dataclass(frozen=True)
class SearchSpace:
    """The ranges searched (log scale except the leak); the defaults suit a Fashion-MNIST CVAE on the emulator."""

    threshold_scale: tuple[float, float] = (1e-3, 1.0)  # times Table 3's thresholds
    input_rate_hz: tuple[float, float] = (10.0, 1000.0)  # rate encoding; 1000 Hz at 1 ms is one spike per step
    a_ltp: tuple[float, float] = (3e-4, 3e-2)  # below ~3e-4 Loihi's engine cannot scale the step ([-1, 1] bounds)
    a_ltd: tuple[float, float] = (3e-4, 3e-2)
    duration: tuple[int, int] = (1000, 48000)  # images presented, one step each
    leak: tuple[float, float] = (0.0, 0.5)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            low, high = getattr(self, field.name)
            if not 0 <= low <= high or (field.name != "leak" and low <= 0):
                raise ConfigError(f"search range {field.name} must be low <= high (positive on a log scale), got "
                                  f"{low}, {high}")

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One setting from an Optuna trial (the input rate only where the encoding is ``rate``)."""
        params = {"threshold_scale": trial.suggest_float("threshold_scale", *self.threshold_scale, log=True),
                  "encoding": trial.suggest_categorical("encoding", ENCODINGS)}
        if params["encoding"] == "rate":
            params["input_rate_hz"] = trial.suggest_float("input_rate_hz", *self.input_rate_hz, log=True)
        params |= {"a_ltp": trial.suggest_float("a_ltp", *self.a_ltp, log=True),
                   "a_ltd": trial.suggest_float("a_ltd", *self.a_ltd, log=True),
                   "duration": trial.suggest_int("duration", *self.duration, log=True),
                   "leak": trial.suggest_float("leak", *self.leak)}
        return params


def sleep_config(params: dict[str, Any], base: VAESleepConfig) -> VAESleepConfig:
    """``base`` (Table 3's column, with what the user fixed) with a trial's ``params`` (thresholds scaled together)."""
    rate = 1 / base.dt_s if params["encoding"] == "intensity" else params["input_rate_hz"]
    return dataclasses.replace(base, thresholds=tuple(t * params["threshold_scale"] for t in base.thresholds),
                               input_rate_hz=rate, a_ltp=params["a_ltp"], a_ltd=params["a_ltd"],
                               duration=params["duration"], leak=params["leak"])


def relative_gain(slept: dict[str, dict[str, float]], awake: dict[str, dict[str, float]]) -> float:
    """The objective: mean relative gain (%) of PSNR and probe accuracy over the noise conditions."""
    gains = [(slept[name][key] - awake[name][key]) / abs(awake[name][key])
             for name in awake for key in ("psnr", "probe")]
    return 100 * sum(gains) / len(gains)


def scores_zero(figures: dict[str, dict[str, float]]) -> bool:
    """Whether any figure is 0: a gain relative to it means nothing."""
    return any(value == 0 for condition in figures.values() for value in condition.values())


@dataclass(frozen=True)
class Validation:
    """What a trial is judged on: a split of training images the sleep does not see, and the noise."""

    images: torch.Tensor
    labels: torch.Tensor
    pixel_sigmas: tuple[float, ...] = (0.1, 0.2, 0.3)
    latent_std: float = 1.0

    def measure(self, model: nn.Module, seed: int) -> dict[str, dict[str, float]]:
        """:func:`~neurovae.evaluate.robustness.robustness` of ``model`` on this split."""
        return robustness(model, self.images, self.labels, self.pixel_sigmas, self.latent_std, seed)


def seeded_study(trials: int, seed: int) -> Any:
    """A quiet Optuna study that maximizes, on a TPE sampler seeded with ``seed`` (so its trials repeat).

    Checked before any costly work: Optuna installed, at least one trial.
    """
    try:
        import optuna
    except ImportError:
        raise NeurovaeError("the sleep search needs Optuna; install neurovae's 'search' extra "
                            "(pip install 'neurovae[search]')") from None
    if trials < 1:
        raise ConfigError(f"a search needs at least one trial, got {trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))


def run_search(model: nn.Module, sleep_images: torch.Tensor, validation: Validation, base: VAESleepConfig,
               trials: int, seed: int = 0, space: SearchSpace | None = None,
               progress: Callable[[dict[str, Any]], None] = lambda record: None) -> dict[str, Any]:
    """Search ``trials`` sleep settings for ``model``; returns the space, the awake model's figures and every trial.

    Args:
        model: a trained CVAE / VSC (not changed).
        sleep_images: the images the sleep presents, in [-1, 1].
        validation: the split and noise the slept models are judged on.
        base: the settings not searched (:func:`~neurovae.sleep.run.table3_config`; its seed seeds the input).
        trials: how many settings to try.
        seed: seed of the sampler and the noise.
        space: the ranges (default :class:`SearchSpace`).
        progress: called with each trial's record when it is done.
    """
    study = seeded_study(trials, seed)
    import optuna

    space = space or SearchSpace()
    awake = validation.measure(model, seed)
    if scores_zero(awake):
        raise ConfigError(f"the awake model scores 0 on the validation split ({awake}), so no gain is relative to "
                          "anything; give more validation images")
    records: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = space.suggest(trial)
        record = {"trial": trial.number, "params": params}
        try:
            slept, summary = sleep_model(model, sleep_images, sleep_config(params, base), "emulator",
                                         precision="fixed")
        except NeurovaeError as error:  # a setting Loihi cannot hold (a threshold beyond 17 bits, a tiny step)
            records.append(record | {"state": "refused", "reason": str(error)})
            progress(records[-1])
            raise optuna.TrialPruned(str(error)) from None
        largest = max(relative_change(layer) for layer in summary["layers"])
        trial.set_constraint("relative_change", largest - MAX_RELATIVE_CHANGE)
        figures = validation.measure(slept, seed)
        record |= {"state": "done", "objective": relative_gain(figures, awake), "feasible":
                   largest <= MAX_RELATIVE_CHANGE, "max_relative_change": largest,
                   "layers": [{key: layer[key] for key in ("name", "firing_rate", "weight_change", "weight_magnitude")}
                              for layer in summary["layers"]], "figures": figures}
        records.append(record)
        progress(record)
        return record["objective"]

    study.optimize(objective, n_trials=trials)
    feasible = [r for r in records if r["state"] == "done" and r["feasible"]]
    best = max(feasible, key=lambda r: r["objective"], default=None)
    return {"seed": seed, "trials_asked": trials, "max_relative_change": MAX_RELATIVE_CHANGE,
            "base": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(base).items()},
            "space": dataclasses.asdict(space), "noise": {"pixel_sigmas": list(validation.pixel_sigmas),
                                                          "latent_std": validation.latent_std},
            "validation_images": len(validation.images), "sleep_images": len(sleep_images), "awake": awake,
            "best": best, "trials": records}
