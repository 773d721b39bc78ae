"""Operation counts per layer, from the spikes and voltages of a run (any backend: PyTorch, Lava, emulator).

Definitions (aligned with NeuroBench where they overlap; per layer ``i`` of a netx network):

- **input events**: input spikes (or non-zero graded inputs, for a network's direct-input first layer) that
  reach the layer's synapses. A synapse delivers its input one step later, so events at the last step of a
  sample are never processed and are not counted; PyTorch, Lava and the emulator all drop them alike.
- **synaptic operations**: each input event times its real fan-out (connections with a non-zero weight leaving
  that input neuron; convolution borders exact, see :mod:`neurovae.energy.connectivity`). NeuroBench's
  effective ACs for 0/1 spikes, effective MACs for graded input.
- **neuron updates**: neurons x steps. A membrane update is *active* when the neuron's voltage after the step
  differs from its voltage after the step before (0 before step 0) or the neuron spikes, and *inactive* (an
  idle compartment) otherwise. Voltages are the ones Lava stores: zero after a spike.
- **output spikes** and **activation sparsity** ``1 - spikes / (neurons x steps)``.
- **synaptic updates**: weight updates of a learning run (zero for inference).

Example:
    >>> counter = OperationCounter(network)                        # doctest: +SKIP
    >>> counter.update(inputs, run_emulator(network, inputs, record_voltage=True))  # doctest: +SKIP
    >>> counter.compute()[0].synaptic_ops                          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurovae.energy.connectivity import fan_in, fan_out
from neurovae.netx import InputNeuronLayer, NetworkRecord
from neurovae.simulate.result import SimulationError, SimulationResult


@dataclass(frozen=True)
class LayerCounts:
    """Operation counts of one spiking layer, summed over ``samples`` samples of ``steps`` steps.

    Attributes:
        index: netx layer index.
        type: netx layer type (``dense``, ``conv``, ``convT``).
        neurons: neurons in the layer.
        connections: synapses the layer's geometry makes (one ANN multiply-accumulate each per image).
        graded_input: the layer's input is graded (direct input), so its synaptic operations are MACs.
        readout: a non-spiking readout layer.
        samples, steps: how much was counted.
        input_events, synaptic_ops, active_updates, inactive_updates, output_spikes, synaptic_updates: totals.
    """

    index: int
    type: str
    neurons: int
    connections: int
    graded_input: bool
    readout: bool
    samples: int
    steps: int
    input_events: int
    synaptic_ops: int
    active_updates: int
    inactive_updates: int
    output_spikes: int
    synaptic_updates: int = 0

    def per_sample(self, name: str) -> float:
        """Mean of the total ``name`` per sample."""
        return getattr(self, name) / self.samples if self.samples else 0.0

    @property
    def activation_sparsity(self) -> float:
        """Fraction of neuron-steps without a spike (NeuroBench's activation sparsity for this layer)."""
        slots = self.neurons * self.steps * self.samples
        return 1.0 - self.output_spikes / slots if slots else 1.0


@dataclass(frozen=True)
class _LayerPlan:
    """What counting one layer needs: where its input comes from and each input neuron's fan-out."""

    index: int
    type: str
    source: int | None  # spiking layer feeding it; None: the network's input
    input_shape: tuple[int, ...]
    fan_out: np.ndarray  # [*input_shape] int64
    connections: int
    readout: bool


class OperationCounter:
    """Accumulates :class:`LayerCounts` over batches of a run: ``update`` per batch, ``compute``, ``reset``.

    Args:
        network: the netx network that was run (its weights decide the fan-outs).
    """

    def __init__(self, network: NetworkRecord) -> None:
        self.network = network
        self._plans: list[_LayerPlan] = []
        source = None
        last = network.spiking_layers[-1]
        for index in network.spiking_layers:
            layer, shape = network.layers[index], network.input_shapes[index]
            readout = index == last and network.readout == "voltage"
            self._plans.append(_LayerPlan(index, layer.type, source, shape, fan_out(layer, shape),
                                          int(fan_in(layer, shape, structural=True).sum()), readout))
            source = index
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.samples = 0
        self.steps: int | None = None
        self._totals = {plan.index: dict.fromkeys(
            ("input_events", "synaptic_ops", "active_updates", "inactive_updates", "output_spikes"), 0)
            for plan in self._plans}

    def state(self) -> dict:
        """What has been counted so far (samples, steps, per-layer totals): what :meth:`merge` adds."""
        return {"samples": self.samples, "steps": self.steps, "totals": self._totals}

    def merge(self, state: dict) -> None:
        """Add another counter's :meth:`state`: the same network counted on other batches (another process's)."""
        if state["samples"] and self.steps is not None and state["steps"] != self.steps:
            raise SimulationError(f"batches of {self.steps} and {state['steps']} steps cannot be counted together")
        self.steps = self.steps if self.steps is not None else state["steps"]
        self.samples += state["samples"]
        for index, totals in state["totals"].items():
            for key, value in totals.items():
                self._totals[index][key] += value

    def update(self, inputs: np.ndarray, result: SimulationResult, continuous: bool = False) -> None:
        """Add a batch: the ``inputs`` ``[N, *input_shape, T]`` the backend ran and its ``result``.

        ``result`` must hold every spiking layer's spikes and voltages (``record_voltage=True``). ``continuous``:
        the samples ran back to back as one run (a netx reset schedule), so only the run's very last step is
        never delivered.
        """
        missing = [plan.index for plan in self._plans if plan.index not in result.voltages
                   or plan.index not in result.spikes]
        if missing:
            raise SimulationError(f"counting needs the spikes and voltages of every layer; layers {missing} were not "
                                  "recorded (run with record_voltage=True and all layers)")
        samples, steps = result.samples, result.steps
        if inputs.shape[0] != samples or inputs.shape[-1] != steps:
            raise SimulationError(f"inputs {inputs.shape} do not match the run's {samples} samples x {steps} steps")
        if self.steps is not None and steps != self.steps:
            raise SimulationError(f"batches of {self.steps} and {steps} steps cannot be counted together")
        self.steps = steps
        self.samples += samples
        for plan in self._plans:
            if isinstance(self.network.layers[plan.index], InputNeuronLayer):  # bias-driven: no input events
                per_input = np.zeros(plan.input_shape, dtype=np.int64)
            else:
                events = inputs if plan.source is None else result.spikes[plan.source]
                events = np.asarray(events).reshape(samples, *plan.input_shape, steps) != 0
                if continuous:
                    events[-1, ..., -1] = False
                else:
                    events = events[..., :-1]
                per_input = events.sum(axis=(0, events.ndim - 1), dtype=np.int64)
            spikes = np.asarray(result.spikes[plan.index], dtype=bool)
            voltages = np.asarray(result.voltages[plan.index])
            before = np.concatenate([np.zeros_like(voltages[..., :1]), voltages[..., :-1]], axis=-1)
            active = int(((voltages != before) | spikes).sum())
            totals = self._totals[plan.index]
            totals["input_events"] += int(per_input.sum())
            totals["synaptic_ops"] += int((per_input * plan.fan_out).sum())
            totals["active_updates"] += active
            totals["inactive_updates"] += voltages.size - active
            totals["output_spikes"] += int(spikes.sum())

    def compute(self) -> list[LayerCounts]:
        """Counts per spiking layer, in network order."""
        counts = []
        for plan in self._plans:
            layer = self.network.layers[plan.index]
            graded = plan.source is None and self.network.input_encoding == "direct"
            counts.append(LayerCounts(index=plan.index, type=plan.type, neurons=int(np.prod(layer.shape)),
                                      connections=plan.connections, graded_input=graded, readout=plan.readout,
                                      samples=self.samples, steps=self.steps or 0, **self._totals[plan.index]))
        return counts
