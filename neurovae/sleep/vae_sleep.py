"""VAE-sleep's parameters (Talafha et al. 2020, Table 3) and its batched PyTorch sleep (Algorithm 1, SLEEP).

Each step, every sleeping layer ``l`` integrates ``W_l s_{l-1}`` (the input current is scaled by
``ampa_scale * scale_l`` by firing at ``threshold_l / (ampa_scale * scale_l)``), fires and resets; then the mirrored
STDP rule moves ``W_l`` and its decoder mirror on the pairs (post spike of ``l``, input spike in the same step).
Like Lava, every synapse delivers one step late, so a spike of step ``t`` drives the next layer at ``t + 1``: a
Lava run of dense layers and this one see the same spikes and make the same weight changes (``tests/parity``).
``batch`` chains sleep side by side on different images, their changes summed each step (``batch = 1`` is
Algorithm 1 itself).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neurovae.energy.learning import LearningCounter
from neurovae.errors import ConfigError
from neurovae.sleep.convert import SleepLayer, layer_shapes
from neurovae.sleep.encoding import bernoulli_spikes, spike_probability
from neurovae.sleep.neuron import if_step
from neurovae.sleep.stdp import MirroredSTDP, conv_pairs


@dataclass(frozen=True)
class VAESleepConfig:
    """Sleep parameters; defaults are Table 3's MNIST / Fashion-MNIST column.

    Table 3 lists "upper-bound 0.0063" and "lower-bound 0.0069", which cannot bound one interval (lower > upper);
    they sit where Tadros et al.'s sleep lists its increment and decrement, so they are read as the STDP steps
    ``a_ltp`` / ``a_ltd``, and the stabilizer's bounds ``w_lb`` / ``w_ub`` are ours (the [-1, 1] range of the
    trained weights). Table 3's target rate ``rho`` has no stated use; :func:`calibrate_thresholds` offers it as
    the rate that each layer's threshold is tuned to, for networks where Table 3's thresholds leave layers silent.
    """

    input_rate_hz: float = 40.0  # maximum input firing rate
    dt_s: float = 0.001  # one step = 1 ms
    duration: int = 48000  # images presented
    steps_per_image: int = 1
    thresholds: tuple[float, ...] = (36.18, 23.36)
    ampa_scale: float = 2.19  # "synaptic AMPA current": scale of the weights during sleep
    a_ltp: float = 0.0063
    a_ltd: float = 0.0069
    w_lb: float = -1.0
    w_ub: float = 1.0
    target_rate: float = 0.02  # rho
    batch: int = 1
    seed: int = 0
    leak: float = 0.0  # fraction of the voltage lost per step (Algorithm 1: 0, integrate-and-fire)

    def __post_init__(self) -> None:
        spike_probability(self.input_rate_hz, self.dt_s)
        if self.duration < 1 or self.steps_per_image < 1 or self.batch < 1:
            raise ConfigError(f"duration, steps_per_image and batch must be >= 1, got {self.duration}, "
                              f"{self.steps_per_image}, {self.batch}")
        if not self.thresholds or min(self.thresholds) <= 0:
            raise ConfigError(f"sleep thresholds must be positive, one per sleeping layer; got {self.thresholds}")
        if not self.ampa_scale > 0:
            raise ConfigError(f"AMPA scale must be positive, got {self.ampa_scale}")
        if not 0 < self.target_rate < 1:
            raise ConfigError(f"target rate rho must be in (0, 1), got {self.target_rate}")
        if not 0 <= self.leak < 1:
            raise ConfigError(f"leak must be in [0, 1) (the fraction of the voltage lost per step), got {self.leak}")
        self.rule  # noqa: B018  (validates the STDP steps and bounds)

    @property
    def rule(self) -> MirroredSTDP:
        """The mirrored STDP rule."""
        return MirroredSTDP(self.a_ltp, self.a_ltd, self.w_lb, self.w_ub)

    def effective_thresholds(self, layers: list[SleepLayer]) -> list[float]:
        """``threshold_l / (ampa_scale * scale_l)``: the threshold on the unscaled input ``W_l s_{l-1}``."""
        if len(self.thresholds) != len(layers):
            raise ConfigError(f"{len(self.thresholds)} sleep thresholds given for {len(layers)} sleeping layers "
                              f"({', '.join(layer.name for layer in layers)}); give one per layer")
        return [t / (self.ampa_scale * layer.scale) for t, layer in zip(self.thresholds, layers, strict=True)]


@dataclass
class SleepState:
    """Membrane voltages and in-flight synaptic currents of every sleeping layer."""

    voltages: list[torch.Tensor]
    currents: list[torch.Tensor]

    @classmethod
    def zeros(cls, layers: list[SleepLayer], input_shape: torch.Size) -> SleepState:
        """All silent (Algorithm 1: ``u = 0``) for inputs of ``input_shape`` ``[B, C, H, W]``."""
        batch, dtype = input_shape[0], layers[0].weight.dtype
        shapes = layer_shapes(layers, tuple(input_shape[1:]))[1:]
        return cls([torch.zeros(batch, *s, dtype=dtype) for s in shapes],
                   [torch.zeros(batch, *s, dtype=dtype) for s in shapes])


def sleep_step(layers: list[SleepLayer], state: SleepState, visible: torch.Tensor, thresholds: list[float],
               rule: MirroredSTDP, counter: LearningCounter | None = None, leak: float = 0.0) -> list[torch.Tensor]:
    """One step of every layer on the ``visible`` input spikes, then the mirrored STDP updates; returns the spikes.

    ``counter``, if given, counts the step's operations (for the sleep's energy report); ``leak``: the neurons'.
    """
    pre, spikes = visible, []
    for index, layer in enumerate(layers):
        before = state.voltages[index]
        post, state.voltages[index] = if_step(before, state.currents[index], thresholds[index], leak)
        if counter is not None:
            counter.update(index, pre, post, before, state.voltages[index])
        state.currents[index] = F.conv2d(pre, layer.weight, stride=layer.stride, padding=layer.padding)
        if rule.plastic and post.any():  # no post spike, no change: sleep is sparse, most steps skip the pairs
            both, post_only = conv_pairs(pre, post, layer.weight.shape, layer.stride, layer.padding)
            layer.weight += rule.delta(layer.weight, both, post_only)
            layer.mirror_weight += rule.delta(layer.mirror_weight, both, post_only)
        spikes.append(post)
        pre = post
    return spikes


def input_spikes(intensities: torch.Tensor, config: VAESleepConfig) -> Iterator[torch.Tensor]:
    """The sleep's input, step by step: Bernoulli spikes ``[batch, C, H, W]`` of the images being presented.

    ``config.duration`` images in a seeded random order (cycling through ``intensities``), each held for
    ``steps_per_image`` steps; a last, partial batch shows blank images in its missing chains.
    """
    probability = spike_probability(config.input_rate_hz, config.dt_s)
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(intensities), generator=generator)
    for start in range(0, config.duration, config.batch):
        picks = order[torch.arange(start, min(start + config.batch, config.duration)) % len(order)]
        images = torch.zeros((config.batch, *intensities.shape[1:]), dtype=intensities.dtype)
        images[: len(picks)] = intensities[picks]
        for _ in range(config.steps_per_image):
            yield bernoulli_spikes(images, probability, generator)


def sleep_steps(config: VAESleepConfig) -> int:
    """How many steps :func:`input_spikes` yields."""
    return -(-config.duration // config.batch) * config.steps_per_image


@torch.no_grad()
def sleep_torch(layers: list[SleepLayer], intensities: torch.Tensor, config: VAESleepConfig,
                progress: Callable[[], None] = lambda: None, counter: LearningCounter | None = None) -> list[float]:
    """SLEEP on ``layers`` (changed in place) with the input of :func:`input_spikes`.

    Args:
        layers: converted layers (:func:`neurovae.sleep.convert.to_snn`).
        intensities: training images in [0, 1], ``[N, C, H, W]``.
        config: sleep parameters.
        progress: called after every step.
        counter: counts the operations of the sleep (for its energy report), if given.

    Returns:
        The mean firing rate (spikes per neuron per step) of each layer over the whole sleep.
    """
    thresholds = config.effective_thresholds(layers)
    state = SleepState.zeros(layers, (config.batch, *intensities.shape[1:]))
    totals = torch.zeros(len(layers), dtype=torch.float64)
    for spikes in input_spikes(intensities, config):
        fired = sleep_step(layers, state, spikes, thresholds, config.rule, counter, config.leak)
        totals += torch.tensor([s.mean().item() for s in fired], dtype=torch.float64)
        progress()
    return (totals / sleep_steps(config)).tolist()


def calibrate_thresholds(layers: list[SleepLayer], intensities: torch.Tensor, config: VAESleepConfig,
                         steps: int = 400, iterations: int = 14) -> tuple[float, ...]:
    """Thresholds (Table 3's units) at which each layer fires at the target rate ``rho`` during sleep, without STDP.

    Layer by layer (a layer's rate depends only on the layers before it, so only those run), a bisection on the
    logarithm of the threshold between 1e-3 and 1e3 over ``steps`` steps of the sleep's own input.
    """
    thresholds = list(config.thresholds[: len(layers)]) + [1.0] * max(0, len(layers) - len(config.thresholds))
    for index in range(len(layers)):
        low, high = math.log(1e-3), math.log(1e3)
        for _ in range(iterations):
            middle = (low + high) / 2
            thresholds[index] = math.exp(middle)
            probe = dataclasses.replace(config, thresholds=tuple(thresholds[: index + 1]), a_ltp=0.0, a_ltd=0.0,
                                        duration=steps * config.batch, steps_per_image=1)
            if sleep_torch(layers[: index + 1], intensities, probe)[index] > config.target_rate:
                low = middle  # fires too often: raise the threshold
            else:
                high = middle
    return tuple(thresholds)
