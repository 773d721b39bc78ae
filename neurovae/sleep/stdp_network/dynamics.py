"""Pure step functions of the network: the two neuron layers and the STDP rule, batched over leading dims.

Each step follows Lava's floating-point update order so that the Lava run and the PyTorch run compute the
same numbers: ``v <- v * (1 - dv) + input`` with ``dv = 1 - exp(-dt / tau)``, a spike when ``v`` exceeds
the threshold, reset to rest (0). The excitatory layer adds Diehl & Cook's adaptive threshold ``theta``
(raised by ``theta_plus`` at each spike, decaying with ``tau_theta``) and a refractory period.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from neurovae.sleep.stdp_network.params import NeuronParams, Phase, StdpParams


@dataclasses.dataclass(frozen=True)
class ExcitatoryDynamics:
    """Per-step constants of the excitatory layer (leak already scaled for sleep when asked)."""

    dv: float
    threshold: float
    refractory_steps: int
    theta_plus: float
    theta_decay: float

    @classmethod
    def from_params(cls, neuron: NeuronParams, phase: Phase) -> ExcitatoryDynamics:
        """Constants for ``neuron`` in ``phase``.

        The phase's leak scaling applies; theta is frozen unless the phase learns, and then decays with the
        phase's own time constant where it has one (as in sleep).
        """
        tau_theta = phase.theta_tau or neuron.tau_theta
        return cls(
            dv=1.0 - math.exp(-neuron.dt * phase.leak_scale / neuron.tau_exc),
            threshold=neuron.threshold_exc,
            refractory_steps=neuron.refractory_steps,
            theta_plus=neuron.theta_plus if phase.learn else 0.0,
            theta_decay=math.exp(-neuron.dt / tau_theta) if phase.learn else 1.0,
        )


@dataclasses.dataclass(frozen=True)
class ExcitatoryState:
    """Membrane potential, steps left in the refractory period and the adaptive threshold."""

    v: torch.Tensor
    refractory: torch.Tensor
    theta: torch.Tensor


def excitatory_step(current: torch.Tensor, state: ExcitatoryState,
                    dyn: ExcitatoryDynamics) -> tuple[torch.Tensor, ExcitatoryState]:
    """One step of the adaptive-threshold LIF layer; returns (spikes as 0/1 of ``current``'s dtype, new state)."""
    silent = state.refractory > 0
    v = torch.where(silent, torch.zeros_like(state.v), state.v * (1.0 - dyn.dv) + current)
    spikes = (v > dyn.threshold + state.theta).to(current.dtype)
    fired = spikes > 0
    v = torch.where(fired, torch.zeros_like(v), v)
    refractory = torch.where(fired, torch.full_like(state.refractory, dyn.refractory_steps),
                             (state.refractory - 1).clamp(min=0))
    theta = state.theta * dyn.theta_decay + dyn.theta_plus * spikes
    return spikes, ExcitatoryState(v=v, refractory=refractory, theta=theta)


def inhibitory_step(current: torch.Tensor, v: torch.Tensor, dv: float,
                    threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Lava's float LIF with ``du = 1`` (no current memory): returns (spikes, new v)."""
    v = v * (1.0 - dv) + current
    spikes = (v > threshold).to(current.dtype)
    return spikes, torch.where(spikes > 0, torch.zeros_like(v), v)


@dataclasses.dataclass(frozen=True)
class Traces:
    """Pre-synaptic (``[..., n_in]``) and post-synaptic (``[..., n_out]``) STDP traces."""

    pre: torch.Tensor
    post: torch.Tensor


def stdp_step(weights: torch.Tensor, pre_spikes: torch.Tensor, post_spikes: torch.Tensor, traces: Traces,
              stdp: StdpParams, dt: float) -> tuple[torch.Tensor, Traces]:
    """Decay the traces, add this step's spikes, then apply the pair rule in place on ``weights``.

    ``weights`` is ``[copies, n_in, n_out]``, spikes ``[copies, n_in]`` / ``[copies, n_out]``. As in Lava's
    learning engine (epoch of one step), both terms see the traces after this step's impulses:
    ``dw = rate_post * pre_trace * post_spike - rate_pre * pre_spike * post_trace``, and every changed ``w``
    is clipped to ``[w_min, w_max]`` once, like Lava's learning engine clips ``w + dw``. Spikes are sparse, so
    only the rows of the inputs that fired and the columns of the outputs that fired are touched (several
    times faster than a dense outer product).
    """
    pre = traces.pre * math.exp(-dt / stdp.tau_pre) + pre_spikes
    post = traces.post * math.exp(-dt / stdp.tau_post) + post_spikes
    fired_copy, fired_column = post_spikes.nonzero(as_tuple=True)
    before = weights[fired_copy, :, fired_column]
    copy, row = pre_spikes.nonzero(as_tuple=True)
    weights[copy, row] = (weights[copy, row] - stdp.rate_pre * post[copy]).clamp_(stdp.w_min, stdp.w_max)
    if len(fired_copy):  # the columns of firing outputs get both terms, clipped once
        depression = pre_spikes[fired_copy] * post[fired_copy, fired_column].unsqueeze(1)
        both = stdp.rate_post * pre[fired_copy] - stdp.rate_pre * depression
        weights[fired_copy, :, fired_column] = (before + both).clamp_(stdp.w_min, stdp.w_max)
    return weights, Traces(pre=pre, post=post)


def normalize_incoming(weights: torch.Tensor, total: float) -> torch.Tensor:
    """Scale each neuron's incoming weights (dim -2) to sum to ``total`` (Diehl & Cook, after every image)."""
    sums = weights.sum(dim=-2, keepdim=True).clamp(min=torch.finfo(weights.dtype).tiny)
    return weights.mul_(total / sums)
