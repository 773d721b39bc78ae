"""The sleep phase of Tadros et al. (2019) on a trained Diehl & Cook network.

Sleep presents noisy Poisson input whose rates follow the mean training image, with a stronger leak and a
stronger input (AMPA) current to mimic the neuromodulation of slow-wave sleep; STDP and the adaptive
thresholds keep their wake rules. Like every wake presentation, sleep ends with Diehl & Cook's normalization
of each neuron's incoming weights (without it the few neurons that fire most in sleep grow mean-image fields
with a larger weight sum and win every test image). The network is changed in place.
"""

from __future__ import annotations

import torch

from neurovae.sleep.stdp_network.dynamics import ExcitatoryDynamics, normalize_incoming
from neurovae.sleep.stdp_network.network import DiehlCookNetwork, poisson_source
from neurovae.sleep.stdp_network.params import NetworkParams, SleepParams, StdpParameterError


def sleep(network: DiehlCookNetwork, mean_image: torch.Tensor, params: SleepParams,
          generator: torch.Generator) -> torch.Tensor:
    """Run one sleep period; returns the spike counts ``[copies, n_neurons]``.

    ``mean_image`` in [0, 1] is ``[n_input]`` (shared) or ``[copies, n_input]`` (each copy its own mean).
    """
    if mean_image.shape not in ((network.params.n_input,), (network.copies, network.params.n_input)):
        raise StdpParameterError(f"the mean image must have {network.params.n_input} pixels (one row or one per "
                                 f"network copy), got shape {tuple(mean_image.shape)}")
    if mean_image.min() < 0 or mean_image.max() > 1:
        raise StdpParameterError("the mean image must lie in [0, 1]")
    rates = (mean_image * params.max_rate).to(network.weights.dtype).expand(network.copies, -1).unsqueeze(1)
    counts = network.present(poisson_source(rates, network.params.neuron.dt, generator),
                             sleep_steps(network.params, params), params.phase())[:, 0]
    normalize_incoming(network.weights, network.params.synapse.weight_sum)
    return counts


def sleep_steps(network: NetworkParams, params: SleepParams) -> int:
    """Time steps of one sleep period."""
    return int(round(params.duration / network.neuron.dt))


def silent_threshold_decay(network: NetworkParams, params: SleepParams) -> float:
    """The factor by which a sleep scales the threshold of a neuron that never fires in it (its decay alone)."""
    return ExcitatoryDynamics.from_params(network.neuron, params.phase()).theta_decay ** sleep_steps(network, params)
