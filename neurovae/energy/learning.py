"""Operation counts of an on-chip learning run (VAE-sleep's mirrored STDP), priced like inference.

Per sleeping layer, over the whole sleep: input events and synaptic operations (each event times its fan-out,
convolution borders exact), membrane updates (active when the voltage changes or the neuron fires), spikes,
and synaptic updates. The mirrored rule changes every synapse of a neuron when it fires (potentiation where
the input fired, depression where it did not), on the feedforward weights and on their decoder mirror: a post
spike costs ``2 x fan-in`` synaptic updates, which is what Loihi's learning engine would perform with the
convolutions lowered to dense connections.

Example:
    >>> counter = LearningCounter.for_convolutions(shapes)   # doctest: +SKIP
    >>> counter.update(0, pre, post, v_before, v_after)        # once per layer and step
    >>> counts = counter.compute()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neurovae.energy.connectivity import fan_in, fan_out
from neurovae.energy.counts import LayerCounts
from neurovae.netx import ConvLayer, CubaNeuron

COUNTED = ("input_events", "synaptic_ops", "active_updates", "inactive_updates", "output_spikes", "synaptic_updates")


@dataclass(frozen=True)
class PlasticConv:
    """Geometry of one plastic convolution: weight ``[C_out, C_in, k, k]`` shape, stride, padding, CHW shapes."""

    weight_shape: tuple[int, ...]
    stride: int
    padding: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    def record(self) -> ConvLayer:
        """A netx record with every synapse present (plastic synapses count whatever their current weight)."""
        return ConvLayer(np.ones(self.weight_shape), CubaNeuron(), shape=tuple(self.output_shape),
                         stride=(self.stride,) * 2, padding=(self.padding,) * 2)


class LearningCounter:
    """Accumulates :class:`~neurovae.energy.counts.LayerCounts` of a learning run, layer by layer and step by step."""

    def __init__(self, layers: Sequence[PlasticConv], mirrored: bool = True) -> None:
        self.layers = list(layers)
        self._fan_out, self._fan_in = [], []
        for layer in self.layers:
            record = layer.record()
            self._fan_out.append(torch.from_numpy(fan_out(record, layer.input_shape)).double())
            self._fan_in.append(torch.from_numpy(fan_in(record, layer.input_shape)).double())
        self._copies = 2 if mirrored else 1
        self.steps = 0
        self.chains = 0
        self._totals = [dict.fromkeys(COUNTED, 0) for _ in self.layers]

    def update(self, index: int, pre: torch.Tensor, post: torch.Tensor, voltage_before: torch.Tensor,
               voltage_after: torch.Tensor) -> None:
        """Add one step of layer ``index``: input spikes ``[B, *input_shape]``, its spikes and voltages ``[B, ...]``."""
        totals = self._totals[index]
        pre, post = pre.double(), post.double()
        active = int(((voltage_after != voltage_before) | (post != 0)).sum())
        totals["input_events"] += int(pre.sum())
        totals["synaptic_ops"] += int((pre * self._fan_out[index]).sum())
        totals["active_updates"] += active
        totals["inactive_updates"] += post.numel() - active
        totals["output_spikes"] += int(post.sum())
        totals["synaptic_updates"] += self._copies * int((post * self._fan_in[index]).sum())
        if index == 0:
            self.steps += 1
            self.chains = pre.shape[0]

    def compute(self) -> list[LayerCounts]:
        """Counts per layer; a "sample" is one chain's whole run (several chains learn side by side)."""
        return [LayerCounts(index=i, type="conv", neurons=self._fan_in[i].numel(),
                            connections=int(self._fan_in[i].sum()), graded_input=False, readout=False,
                            samples=self.chains, steps=self.steps, **self._totals[i])
                for i in range(len(self.layers))]
