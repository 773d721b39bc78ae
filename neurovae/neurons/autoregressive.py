r"""Autoregressive Bernoulli spike sampling (Kamata et al. 2022, FSVAE) with a delay-free spiking MLP.

A :class:`CandidateNet` sees at step ``t`` a context ``c_t`` (FSVAE's posterior: the encoder's output spikes
``x_t``; its prior: nothing) and the previous latent spikes ``z_{t-1}`` (``z_{-1} = 0``), and outputs ``k``
candidate spikes per latent neuron. ``z_t`` is one candidate picked uniformly at random, so given the past

.. math::

    z_t \sim \mathrm{Bernoulli}(\pi_t), \qquad \pi_t = \frac{1}{k} \sum_{j=1}^{k} o_{t,j}

and ``z`` is a Bernoulli process whose probabilities are the network's (the paper's "randomly selected from the
output"). The layers are ``Linear -> tdBN (alpha = 2) -> LIF`` without the one-step synaptic delay of
:mod:`neurovae.neurons.blocks`: the net runs on the host (the reference has no delay, and ``z_t`` must depend on
the same step's context).

Two ways to run the net:

* :meth:`CandidateNet.forward` - teacher forced: all ``T`` steps at once (time folded into the batch), with
  gradients; this is the pass that trains.
* :meth:`CandidateNet.roll_out` - step by step, each ``z_t`` fed back at ``t + 1`` with every neuron's voltage
  carried over: ``T`` network steps in all, where the reference re-runs every prefix (``T^2 / 2``). Only the
  context's share of the first layer is independent of ``z``; it is computed for all steps at once.

Normalization while stepping: in eval mode tdBN's running statistics (an affine map, what export folds in); in
training mode the batch statistics of the steps seen so far (causal tdBN). The reference normalizes each prefix
with that prefix's batch statistics instead; both approximate the full-window statistics of the teacher-forced
pass, which needs all of ``z`` first. In eval mode the roll-out and the teacher-forced pass are the same function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neurovae.neurons.blocks import fold_time, unfold_time
from neurovae.neurons.lif import LIF, LIFParams
from neurovae.neurons.tdbn import TDBatchNorm, fold_into_synapse

NextInput = Callable[[int, torch.Tensor], torch.Tensor]
"""``next_input(t, candidates [N, C, k]) -> z_t [N, C]``: what a roll-out feeds back at step ``t + 1``."""


def pick(candidates: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
    """The candidate ``[...]`` of ``candidates [..., k]`` at integer indices ``choice [...]`` (differentiable)."""
    return candidates.gather(-1, choice.unsqueeze(-1)).squeeze(-1)


def shift_in_time(latent: torch.Tensor) -> torch.Tensor:
    """``[z_0 .. z_{T-1}] -> [0, z_0 .. z_{T-2}]`` (time-first): the previous latent seen at each step."""
    return torch.cat([torch.zeros_like(latent[:1]), latent[:-1]])


class _CausalNorm:
    """tdBN applied step by step with the batch statistics of the steps seen so far (training-time roll-outs)."""

    def __init__(self, norm: TDBatchNorm) -> None:
        self.norm = norm
        self.total = self.squares = 0.0
        self.count = 0

    def __call__(self, pre: torch.Tensor) -> torch.Tensor:
        self.total = self.total + pre.sum(0)
        self.squares = self.squares + pre.square().sum(0)
        self.count += pre.shape[0]
        mean = self.total / self.count
        var = (self.squares / self.count - mean.square()).clamp_min(0)
        scale = self.norm.weight * self.norm.gain / torch.sqrt(var + self.norm.eps)
        return (pre - mean) * scale + self.norm.bias


class DenseSpiking(nn.Module):
    """``Linear -> tdBN (optional) -> LIF`` with no synaptic delay, on ``[T, N, features]``."""

    def __init__(self, in_features: int, out_features: int, lif: LIFParams, norm_alpha: float | None) -> None:
        super().__init__()
        self.synapse = nn.Linear(in_features, out_features)
        self.norm = None if norm_alpha is None else TDBatchNorm(out_features, lif.threshold, alpha=norm_alpha)
        self.neuron = LIF(lif)

    def forward(self, spikes_in: torch.Tensor) -> torch.Tensor:
        """Output spikes ``[T, N, out]``: the synapse and tdBN over all steps at once, then the neuron over time."""
        pre = self.synapse(fold_time(spikes_in))
        if self.norm is not None:
            pre = self.norm(pre)
        return self.neuron(unfold_time(pre, spikes_in.shape[0]))

    def step_norm(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The normalization of one step's pre-activation ``[N, out]`` for a roll-out (see the module docstring)."""
        if self.norm is None:
            return lambda pre: pre
        if self.norm.training:
            return _CausalNorm(self.norm)
        scale, shift = self.norm.scale_shift()
        return lambda pre: pre * scale + shift


class CandidateNet(nn.Module):
    """``[c_t, z_{t-1}] -> k`` candidate spikes per latent neuron at every step (see the module docstring).

    Args:
        context: size of ``c_t`` (0: no context, a prior).
        latent: number of latent neurons ``C``.
        hidden: sizes of the hidden layers (FSVAE: ``2C, 4C``).
        candidates: ``k`` (FSVAE: 20).
        lif: the neurons' parameters.
        norm_alpha: tdBN's ``alpha`` (FSVAE: 2), or None for no tdBN (a net whose tdBN is folded in).
    """

    def __init__(self, context: int, latent: int, hidden: Sequence[int], candidates: int, lif: LIFParams,
                 norm_alpha: float | None = 2.0) -> None:
        super().__init__()
        if latent < 1 or candidates < 1 or context < 0:
            raise ValueError(f"need latent >= 1, candidates >= 1, context >= 0; got {latent}, {candidates}, {context}")
        self.context, self.latent, self.candidates = context, latent, candidates
        sizes = [context + latent, *hidden, latent * candidates]
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        self.layers = nn.ModuleList(DenseSpiking(a, b, lif, norm_alpha) for a, b in pairs)

    def forward(self, context: torch.Tensor | None, previous: torch.Tensor) -> torch.Tensor:
        """Candidates ``[T, N, C, k]`` for contexts ``[T, N, context]`` and previous latents ``[T, N, C]``."""
        x = previous if context is None else torch.cat([context, previous], dim=-1)
        for layer in self.layers:
            x = layer(x)
        return x.unflatten(-1, (self.latent, self.candidates))

    @torch.no_grad()
    def roll_out(self, context: torch.Tensor | None, steps: int, batch: int, next_input: NextInput) -> torch.Tensor:
        """Run ``steps`` steps one by one, feeding ``next_input(t, candidates)`` back; returns those ``[T, N, C]``."""
        first = self.layers[0].synapse
        weight = first.weight
        drive = first.bias.expand(steps, batch, -1)  # the part of layer 1's input independent of z
        if context is not None:
            drive = F.linear(context[:steps], weight[:, :self.context], first.bias)
        feedback = weight[:, self.context:]
        norms = [layer.step_norm() for layer in self.layers]
        voltages: list[torch.Tensor | None] = [None] * len(self.layers)
        latent = weight.new_zeros(batch, self.latent)
        fed_back = []
        for t in range(steps):
            x = drive[t] + F.linear(latent, feedback)  # layer 1's pre-activation, then each layer's spikes
            for index, layer in enumerate(self.layers):
                current = norms[index](layer.synapse(x) if index else x)
                mem = torch.zeros_like(current) if voltages[index] is None else voltages[index]
                x, voltages[index] = layer.neuron.step(current, mem)
            latent = next_input(t, x.unflatten(-1, (self.latent, self.candidates)))
            fed_back.append(latent)
        return torch.stack(fed_back)

    def sample(self, context: torch.Tensor | None, choice: torch.Tensor) -> torch.Tensor:
        """Latent spikes ``[T, N, C]``, ``z_t`` = candidate ``choice[t]`` (integers ``[T, N, C]`` in ``[0, k)``)."""
        steps, batch = choice.shape[:2]
        return self.roll_out(context, steps, batch, lambda t, candidates: pick(candidates, choice[t]))

    def folded_arrays(self, prefix: str) -> dict[str, torch.Tensor]:
        """The net with tdBN folded in, for the host of a deployment (:meth:`from_folded_arrays` reads it back)."""
        arrays = {}
        for index, layer in enumerate(self.layers):
            weight, bias = fold_into_synapse(layer.synapse.weight, layer.synapse.bias, layer.norm)
            arrays[f"{prefix}_layer{index}_weight"], arrays[f"{prefix}_layer{index}_bias"] = weight, bias
        params = self.layers[0].neuron.params
        arrays[f"{prefix}_lif"] = torch.tensor([params.beta, params.threshold], dtype=torch.float64)
        arrays[f"{prefix}_sizes"] = torch.tensor([self.context, self.latent, self.candidates], dtype=torch.float64)
        return arrays

    @classmethod
    def from_folded_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> CandidateNet:
        """A float64 net without tdBN from :meth:`folded_arrays` output (numpy arrays, as a netx file stores them)."""
        context, latent, candidates = (int(v) for v in arrays[f"{prefix}_sizes"])
        count = sum(name.startswith(f"{prefix}_layer") and name.endswith("_weight") for name in arrays)
        weights = [torch.tensor(arrays[f"{prefix}_layer{i}_weight"], dtype=torch.float64) for i in range(count)]
        beta, threshold = (float(v) for v in arrays[f"{prefix}_lif"])
        net = cls(context, latent, [w.shape[0] for w in weights[:-1]], candidates, LIFParams(beta, threshold),
                  norm_alpha=None).double()
        with torch.no_grad():
            for index, (layer, weight) in enumerate(zip(net.layers, weights, strict=True)):
                layer.synapse.weight.copy_(weight)
                layer.synapse.bias.copy_(torch.tensor(arrays[f"{prefix}_layer{index}_bias"]))
        return net.eval()

    @staticmethod
    def stored_in(arrays: dict[str, np.ndarray], prefix: str) -> bool:
        """Whether ``arrays`` (a netx file's host arrays) hold a net written with ``prefix``."""
        return f"{prefix}_sizes" in arrays
