"""The Diehl & Cook (2015) network: Poisson input -> excitatory layer (STDP, adaptive thresholds) <-> inhibition.

Several independent networks ("copies", e.g. one per seed) run side by side as a leading tensor dimension;
they share nothing. Learning is sequential, as in the paper: each copy sees one image at a time and its
weights change at every time step, so images are never batched while learning. Without learning (labelling,
testing) the weights and thresholds are frozen and any number of images run in parallel.

Every connection delivers at step t what its source emitted at step t-1, as Lava's ``Dense`` does (with the
weights of step t-1 before that step's STDP update), so the same input spikes give the same trajectory here
and on Lava (tests/parity/test_tadros_lava.py). Every presentation starts from rest (potentials, traces and
synaptic buffers zero; weights and thresholds kept), which stands for Diehl & Cook's 150 ms silent interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from neurovae.sleep.stdp_network.dynamics import (
    ExcitatoryDynamics,
    ExcitatoryState,
    Traces,
    excitatory_step,
    inhibitory_step,
    normalize_incoming,
    stdp_step,
)
from neurovae.sleep.stdp_network.params import NetworkParams, Phase, StdpParameterError

SpikeSource = Callable[[int], torch.Tensor]
"""Step index -> input spikes ``[copies, images, n_input]`` (0/1) for that step."""


def poisson_source(rates_hz: torch.Tensor, dt: float, generator: torch.Generator) -> SpikeSource:
    """Independent Bernoulli draws per step with probability ``rate * dt`` (a Poisson train for small dt)."""
    probability = (rates_hz * (dt / 1000.0)).clamp(max=1.0)
    return lambda _step: torch.bernoulli(probability, generator=generator)


def poisson_train(rates_hz: torch.Tensor, dt: float, steps: int, generator: torch.Generator) -> SpikeSource:
    """Like :func:`poisson_source` but drawn for all ``steps`` at once (fast for one image per copy)."""
    probability = (rates_hz * (dt / 1000.0)).clamp(max=1.0)
    spikes = torch.bernoulli(probability.unsqueeze(0).expand(steps, *probability.shape), generator=generator)
    return lambda step: spikes[step]


@dataclasses.dataclass
class DiehlCookNetwork:
    """Weights ``[copies, n_input, n_neurons]`` and thresholds ``theta`` ``[copies, n_neurons]`` of the copies."""

    params: NetworkParams
    weights: torch.Tensor
    theta: torch.Tensor

    @classmethod
    def create(cls, params: NetworkParams, copies: int, generators: list[torch.Generator],
               dtype: torch.dtype = torch.float32) -> DiehlCookNetwork:
        """Random initial weights, uniform in [0, initial_max) and normalized; one generator per copy."""
        if len(generators) != copies:
            raise StdpParameterError(f"need one generator per network copy, got {len(generators)} for {copies}")
        weights = torch.stack([torch.rand(params.n_input, params.n_neurons, generator=g, dtype=dtype)
                               for g in generators]) * params.synapse.initial_max
        normalize_incoming(weights, params.synapse.weight_sum)
        return cls(params=params, weights=weights, theta=torch.zeros(copies, params.n_neurons, dtype=dtype))

    @property
    def copies(self) -> int:
        """Number of independent networks held."""
        return self.weights.shape[0]

    def clone(self) -> DiehlCookNetwork:
        """A deep copy (weights and thresholds), e.g. to sleep a snapshot without touching the original."""
        return DiehlCookNetwork(params=self.params, weights=self.weights.clone(), theta=self.theta.clone())

    def present(self, source: SpikeSource, steps: int, phase: Phase, record: bool = False) -> torch.Tensor:
        """Run ``steps`` steps from rest on the input spikes of ``source``; return excitatory spike counts.

        Counts are ``[copies, images, n_neurons]`` (with ``record``, the spikes of every step instead,
        ``[steps, copies, images, n_neurons]``). With ``phase.learn`` the source must give one image per
        copy; the weights change by STDP at every step and the thresholds adapt (both in place).
        """
        neuron, synapse = self.params.neuron, self.params.synapse
        first = source(0)
        copies, images, _ = first.shape
        if phase.learn and images != 1:
            raise StdpParameterError("learning runs one image per network copy at a time (sequential STDP)")
        dyn = ExcitatoryDynamics.from_params(neuron, phase)
        dv_inh = 1.0 - math.exp(-neuron.dt / neuron.tau_inh)
        zeros = first.new_zeros(copies, images, self.params.n_neurons)
        exc = ExcitatoryState(v=zeros, refractory=zeros.clone(), theta=self.theta.unsqueeze(1).expand_as(zeros))
        v_inh, exc_spikes, inh_spikes = zeros.clone(), zeros.clone(), zeros.clone()
        traces = Traces(pre=first.new_zeros(copies, self.params.n_input),
                        post=first.new_zeros(copies, self.params.n_neurons))
        held_drive = zeros.clone()
        if phase.learn:  # STDP clips only the synapses it changes; normalization may have left some above w_max
            self.weights.clamp_(self.params.stdp.w_min, self.params.stdp.w_max)
        counts = zeros.clone()
        trace = []
        inhibition = synapse.inh_to_exc * phase.inhibition_scale
        for step in range(steps):
            input_spikes = first if step == 0 else source(step)
            lateral = inh_spikes.sum(dim=-1, keepdim=True) - inh_spikes
            current = (held_drive * phase.ampa_scale).sub_(lateral, alpha=inhibition)
            new_exc_spikes, exc = excitatory_step(current, exc, dyn)
            inh_spikes, v_inh = inhibitory_step(exc_spikes * synapse.exc_to_inh, v_inh, dv_inh,
                                                neuron.threshold_inh)
            exc_spikes = new_exc_spikes
            counts += exc_spikes
            if record:
                trace.append(exc_spikes)
            held_drive = torch.bmm(input_spikes, self.weights)  # delivered next step, before this step's STDP
            if phase.learn:
                _, traces = stdp_step(self.weights, input_spikes[:, 0], exc_spikes[:, 0], traces,
                                      self.params.stdp, neuron.dt)
        if phase.learn:
            self.theta = exc.theta[:, 0].clone()
        return torch.stack(trace) if record else counts

    def learn_image(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Present one image per copy (``[copies, n_input]`` in [0, 1]) with learning, as Diehl & Cook do.

        While a copy fires fewer than ``min_spikes`` spikes its input rate is raised by ``max_rate`` and the
        image presented again (at most ``max_retries`` times). Incoming weights are normalized afterwards.
        Returns the spike counts of the last presentation, ``[copies, n_neurons]``.
        """
        phase = Phase(learn=True)
        settings = self.params.input
        steps = int(round(settings.duration / self.params.neuron.dt))
        rate = torch.full((self.copies, 1), settings.max_rate, dtype=image.dtype)
        counts = torch.zeros(self.copies, self.params.n_neurons, dtype=image.dtype)
        pending = torch.arange(self.copies)
        for _attempt in range(settings.max_retries + 1):
            part = DiehlCookNetwork(self.params, self.weights[pending], self.theta[pending])
            rates = (image[pending] * rate[pending]).unsqueeze(1)
            source = poisson_train(rates, self.params.neuron.dt, steps, generator)
            counts[pending] = part.present(source, steps, phase)[:, 0]
            self.weights[pending], self.theta[pending] = part.weights, part.theta
            quiet = counts[pending].sum(dim=-1) < settings.min_spikes
            pending = pending[quiet]
            if len(pending) == 0:
                break
            rate[pending] += settings.max_rate
        normalize_incoming(self.weights, self.params.synapse.weight_sum)
        return counts

    @torch.no_grad()
    def responses(self, images: torch.Tensor, generator: torch.Generator, batch: int = 500) -> torch.Tensor:
        """Frozen-network spike counts ``[copies, len(images), n_neurons]`` for images ``[count, n_input]``.

        Images on which a copy fires fewer than ``min_spikes`` spikes are presented again at a higher rate,
        as during learning, so that every image gets a response to label or classify.
        """
        settings = self.params.input
        steps = int(round(settings.duration / self.params.neuron.dt))
        frozen = Phase(learn=False)
        chunks = []
        for start in range(0, len(images), batch):
            chunk = images[start:start + batch]
            counts = torch.zeros(self.copies, len(chunk), self.params.n_neurons, dtype=self.weights.dtype)
            quiet = torch.ones(self.copies, len(chunk), dtype=torch.bool)
            for attempt in range(settings.max_retries + 1):
                rates = chunk.unsqueeze(0).expand(self.copies, -1, -1) * settings.max_rate * (attempt + 1)
                fresh = self.present(poisson_source(rates, self.params.neuron.dt, generator), steps, frozen)
                counts = torch.where(quiet.unsqueeze(-1), fresh, counts)
                quiet = counts.sum(dim=-1) < settings.min_spikes
                if not quiet.any():
                    break
            chunks.append(counts)
        return torch.cat(chunks, dim=1)
