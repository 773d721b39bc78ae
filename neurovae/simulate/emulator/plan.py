"""Compile a netx network into emulator stages, and run one batch through them (time-major tensors).

A :class:`Stage` is one netx layer: a reshape (``input``, ``flatten``, or any layer without neurons), a
synapse op from :data:`~neurovae.simulate.emulator.synapses.SYNAPSES` followed by a CUBA LIF step
(:mod:`neurovae.simulate.emulator.neuron`), or an input neuron group (a SLAYER Input block) whose bias is the input.

Timing is Lava's (see :mod:`neurovae.simulate`): a synapse delivers at step t what its input sent at step
t-1, and nothing at a sample's first step, ``I_l(t) = W_l s_{l-1}(t-1)``. With a
:class:`~neurovae.simulate.schedule.ResetSchedule` the time axis is one continuous run instead, and each layer's
neurons are zeroed at its own steps of the schedule. Because the network is feed-forward,
:func:`run_batch` runs it layer by layer: one synapse call computes a layer's input for all steps of all
samples at once (a large, fast matrix product or convolution), then the LIF recurrence runs over the steps.

Example:
    >>> plan = compile_network(network, "fixed")                  # doctest: +SKIP
    >>> records = run_batch(plan, frames)                         # frames [T, B, *input_shape]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import torch

from neurovae.netx import InputNeuronLayer, NetworkRecord
from neurovae.simulate.emulator.neuron import (
    FixedLIFParams,
    FloatLIFParams,
    LIFState,
    bias_state,
    fixed_step,
    float_step,
)
from neurovae.simulate.emulator.synapses import SYNAPSES, Synapse, SynapseSpec
from neurovae.simulate.fixed import GRADED_EXP
from neurovae.simulate.result import SimulationError
from neurovae.simulate.schedule import ResetSchedule

STATE_EXP = 6
"""Fixed point voltages are reported as Lava's internal ``v`` divided by ``2**6``."""


@dataclass(frozen=True)
class Stage:
    """One layer of the compiled network.

    Attributes:
        index: the layer's index in the netx file.
        out_shape: its CHW output shape.
        synapse: the synapse op (None: a reshape, or input neurons).
        neuron: the LIF parameters (None: a reshape).
        input_neurons: the input neuron group whose bias is the input (None: the layer has a synapse, or none).
    """

    index: int
    out_shape: tuple[int, ...]
    synapse: Synapse | None = None
    neuron: FloatLIFParams | FixedLIFParams | None = None
    input_neurons: InputNeuronLayer | None = None

    def __post_init__(self) -> None:
        if (self.synapse is None and self.input_neurons is None) != (self.neuron is None):
            raise ValueError("a stage's neurons are driven by a synapse or by the input; a reshape has neither")

    @property
    def dtype(self) -> torch.dtype:
        """The neuron state's dtype: float64 (float), or the fixed-point parameters' choice."""
        return getattr(self.neuron, "dtype", torch.float64)


@dataclass(frozen=True)
class Plan:
    """A compiled network.

    Attributes:
        stages: the layers in order.
        precision: ``float`` or ``fixed``.
        input_shape: CHW shape of one input frame.
        device: where it runs.
    """

    stages: tuple[Stage, ...]
    precision: str
    input_shape: tuple[int, ...]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def spiking(self) -> tuple[int, ...]:
        """Indices of the layers with neurons."""
        return tuple(stage.index for stage in self.stages if stage.neuron is not None)


def compile_network(network: NetworkRecord, precision: str, device: str | torch.device = "cpu",
                    input_bound: float = 1.0) -> Plan:
    """Build the stages of ``network`` for ``precision`` (``float`` or ``fixed``).

    Args:
        network: the netx record.
        precision: ``float`` (Lava ``floating_pt``) or ``fixed`` (``fixed_pt``).
        device: torch device to run on.
        input_bound: an upper bound of the input's magnitude as the first synapse receives it (1 for spikes;
            fixed point direct input: ``max |round(64 x)|``); decides which overflow wraps can happen.

    Raises:
        SimulationError: a layer type without a synapse op, or sums too large to compute exactly.
    """
    device = torch.device(device)
    graded = network.input_encoding == "direct"
    stages, bound = [], float(input_bound)
    for index, (layer, out_shape, in_shape) in enumerate(zip(network.layers, network.shapes, network.input_shapes,
                                                             strict=True)):
        out_shape = tuple(out_shape)
        if isinstance(layer, InputNeuronLayer):
            stages.append(Stage(index, out_shape, neuron=_input_neuron_params(layer, precision, device),
                                input_neurons=layer))
            continue
        if not layer.spiking:
            stages.append(Stage(index, out_shape))
            continue
        builder = SYNAPSES.get(layer.type)
        if builder is None:
            raise SimulationError(f"layer {index} is a {layer.type} layer, which the emulator cannot run; "
                                  f"it runs {', '.join(sorted(SYNAPSES))}")
        extra_exp = -GRADED_EXP if graded and precision == "fixed" else 0
        spec = SynapseSpec(in_shape=tuple(in_shape), out_shape=out_shape, precision=precision, graded=graded,
                           weight_exp=extra_exp, input_bound=bound, device=device)
        try:
            synapse = builder(layer, spec)
        except ValueError as error:
            raise SimulationError(f"layer {index} ({layer.type}): {error}") from None
        if precision == "fixed":
            neuron = FixedLIFParams.from_neuron(layer.neuron, layer.bias, out_shape, device, synapse.bound)
        else:
            neuron = FloatLIFParams.from_neuron(layer.neuron, layer.bias, out_shape, device)
        stages.append(Stage(index, out_shape, synapse, neuron))
        bound, graded = 1.0, False
    return Plan(stages=tuple(stages), precision=precision, input_shape=tuple(network.input_shape), device=device)


def _input_neuron_params(layer: InputNeuronLayer, precision: str,
                         device: torch.device) -> FloatLIFParams | FixedLIFParams:
    """The input neurons' LIF parameters, planned for any bias Lava's int16 ``bias_mant`` holds.

    Each batch's bias replaces the placeholder.
    """
    if precision == "fixed":
        return FixedLIFParams.from_neuron(layer.neuron, np.array([-(1 << 15)]), (1,), device, input_bound=0.0)
    return FloatLIFParams.from_neuron(layer.neuron, None, (1,), device)


@dataclass
class BatchRecord:
    """What one batch produced (time-major, on the plan's device).

    Attributes:
        spikes: layer index -> bool ``[T, B, *shape]`` (the layers asked for).
        voltages: layer index -> float64 ``[T, B, *shape]`` in device units (only when asked for).
        readout: the last spiking layer's voltage after the last step, float64 ``[B, *shape]``.
    """

    spikes: dict[int, torch.Tensor] = field(default_factory=dict)
    voltages: dict[int, torch.Tensor] = field(default_factory=dict)
    readout: torch.Tensor | None = None


def run_batch(plan: Plan, frames: torch.Tensor, record_spikes: Collection[int] | None = None,
              record_voltage: bool | Collection[int] = False, schedule: ResetSchedule | None = None) -> BatchRecord:
    """Run ``frames`` ``[T, B, *input_shape]`` (fixed point: whole numbers) through the compiled network.

    Args:
        plan: the compiled network.
        frames: the input; 0/1 spikes, graded values (fixed point: already ``round(64 x)``), or the values
            whose transform is an input neuron group's bias.
        record_spikes: layer indices whose spikes to return (None: every spiking layer).
        record_voltage: also return every spiking layer's voltage at every step (or only those of the layer
            indices given).
        schedule: zero each layer at its steps of this netx schedule, step 0 being Lava's time step 1 (None:
            every sample starts from zero at step 0 and is never reset).
    """
    steps, batch = int(frames.shape[0]), int(frames.shape[1])
    scale = 2.0**-STATE_EXP if plan.precision == "fixed" else 1.0
    step = fixed_step if plan.precision == "fixed" else float_step
    wanted = set(plan.spiking if record_spikes is None else record_spikes)
    record, x, shape = BatchRecord(), frames, plan.input_shape
    last = plan.spiking[-1]
    neuron_order = 0
    for stage in plan.stages:
        if stage.neuron is None:
            x, shape = x.reshape(steps, batch, *stage.out_shape), stage.out_shape
            continue
        layer_order, neuron_order = neuron_order, neuron_order + 1
        state = LIFState.zeros((batch, *stage.out_shape), stage.dtype, plan.device)
        silence = torch.zeros((batch, *stage.out_shape), dtype=stage.dtype, device=plan.device)
        if stage.input_neurons is None:
            drive, biases = _synaptic_input(stage, x, shape), None
        else:
            drive, biases = [], _input_biases(stage, x, plan.precision)
        spikes = torch.empty((steps, batch, *stage.out_shape), dtype=torch.bool, device=plan.device)
        keep_voltage = record_voltage is True or (record_voltage is not False and stage.index in record_voltage)
        volts = torch.empty(spikes.shape, dtype=torch.float64, device=plan.device) if keep_voltage else None
        for t in range(steps):
            if schedule is not None and t and schedule.resets(layer_order, t):
                state = LIFState.zeros(state.u.shape, stage.dtype, plan.device)
            a = drive[t - 1] if 0 < t <= len(drive) and drive[t - 1] is not None else silence
            params = stage.neuron if biases is None else dataclasses.replace(stage.neuron, bias=biases[t])
            spikes[t], state = step(a, state, params)
            if volts is not None:
                volts[t] = state.v.to(torch.float64) * scale
        del drive
        if stage.index in wanted:
            record.spikes[stage.index] = spikes
        if volts is not None:
            record.voltages[stage.index] = volts
        if stage.index == last:
            record.readout = state.v.to(torch.float64) * scale
        x, shape = spikes, stage.out_shape
    return record


def _input_biases(stage: Stage, x: torch.Tensor, precision: str) -> torch.Tensor:
    """The input neurons' bias at every step, ``[T, B, *shape]``, as their ``LIF`` adds it to the voltage.

    Fixed point: ``trunc(weight x + bias)`` stored in Lava's int16 ``bias_mant`` and shifted by its ``bias_exp``.
    """
    values = stage.input_neurons.input_bias(x.cpu().numpy(), precision)
    if precision == "fixed":
        return bias_state(values).to(device=x.device, dtype=stage.dtype)
    return torch.from_numpy(values).to(device=x.device, dtype=torch.float64)


def _synaptic_input(stage: Stage, x: torch.Tensor, shape: tuple[int, ...]) -> list[torch.Tensor | None]:
    """The synapse's output for steps 0..T-2 (delivered at steps 1..T-1); None for steps without input.

    What arrives at step t was sent at step t-1, so the input's last step is never delivered. The first steps at
    which no sample of the batch has any input (before spikes reach a deep layer) cost nothing: a synapse maps
    zero to zero (it has no bias; Lava's neuron adds it).
    """
    steps, batch = int(x.shape[0]), int(x.shape[1])
    if steps < 2:
        return []
    sent = x[:-1]
    first = 0  # silent steps come first (a deep layer's input before spikes reach it): skip only those
    while first < steps - 1 and not bool(sent[first].any()):
        first += 1
    drive: list[torch.Tensor | None] = [None] * (steps - 1)
    chosen = list(range(first, steps - 1))
    if not chosen:
        return drive
    frames = sent[first:]
    out = stage.synapse(frames.reshape(len(chosen) * batch, *shape))
    out = out.reshape(len(chosen), batch, *stage.out_shape).to(stage.dtype)
    for k, t in enumerate(chosen):
        drive[t] = out[k]
    return drive
