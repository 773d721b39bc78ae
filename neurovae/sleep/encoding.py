"""Bernoulli input spike trains: each pixel fires in a step with probability ``intensity * rate * dt``."""

from __future__ import annotations

import torch

from neurovae.errors import ConfigError


def spike_probability(max_rate_hz: float, dt_s: float) -> float:
    """Firing probability per step of a pixel at full intensity; a rate outside its sense is refused."""
    if not max_rate_hz > 0:
        raise ConfigError(f"input rate must be positive (Hz), got {max_rate_hz}")
    if not dt_s > 0:
        raise ConfigError(f"time step dt must be positive (seconds), got {dt_s}")
    probability = max_rate_hz * dt_s
    if probability > 1:
        raise ConfigError(f"input rate {max_rate_hz} Hz x dt {dt_s} s = {probability:g} spikes per step; "
                            "lower the rate or dt so that it is at most 1")
    return probability


def bernoulli_spikes(intensities: torch.Tensor, probability: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """One step of spikes: ``intensities`` in [0, 1] fire with probability ``intensity * probability``.

    Example:
        >>> bernoulli_spikes(torch.ones(3), 1.0).tolist()
        [1.0, 1.0, 1.0]
    """
    uniform = torch.rand(intensities.shape, generator=generator, device=intensities.device)
    return (uniform < intensities.clamp(0, 1) * probability).to(intensities.dtype)
