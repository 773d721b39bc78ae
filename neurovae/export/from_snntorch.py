"""Any snnTorch network of supported layers -> a netx network (:func:`export_netx`).

The chain (:mod:`neurovae.export.chain`) is read as netx layers: a synapse (``Linear``, ``Conv2d``,
``ConvTranspose2d``), an optional ``BatchNorm1d``/``2d`` folded into it, and an ``snn.Leaky`` or ``snn.Synaptic``;
``Flatten`` between them; ``Dropout`` and ``Identity`` are no-ops in eval mode. The neurons map onto Loihi's CUBA LIF
as neurovae's own LIF does (:meth:`neurovae.neurons.LIFParams.to_cuba`, :func:`neurovae.export.writers.cuba_neuron`):
``vDecay = 4096 (1 - beta)``, ``vThMant = threshold x weight_scale``, and for ``Synaptic``
``iDecay = 4096 (1 - alpha)``. What Lava's LIF cannot compute is refused in one line naming the layer.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

import snntorch as snn
import torch
from torch import nn

from neurovae.export.chain import NEURONS, ChainError, sequential_chain
from neurovae.export.export import ExportError
from neurovae.export.quantize import QuantizationError, quantize_network
from neurovae.export.writers import ExportState, cuba_neuron, write_flatten, write_synapse
from neurovae.netx import DECAY_SCALE, PRECISIONS, CubaNeuron, InputLayer, NetworkRecord, NetxError, write_netx
from neurovae.neurons.blocks import SYNAPSES
from neurovae.neurons.lif import LIFParams

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
NO_OPS = (nn.Identity, nn.Dropout)
"""Layers that compute nothing in eval mode, the mode a network is exported in."""


@dataclass(frozen=True)
class Stage:
    """One netx layer: a synapse, its batch norm (or None) and its neuron, with their places in the chain."""

    synapse_at: int
    synapse: nn.Module
    norm: nn.Module | None
    neuron_at: int
    neuron: nn.Module


def _where(index: int, layer: nn.Module) -> str:
    return f"layer {index} ({type(layer).__name__})"


def stages(chain: list[nn.Module]) -> list[Stage | nn.Flatten]:
    """Group a chain into :class:`Stage` s and flattens; anything else is a one-line :class:`ExportError`."""
    grouped: list[Stage | nn.Flatten] = []
    pending: list[tuple[int, nn.Module]] = []  # a synapse and its batch norm, waiting for their neuron
    for index, layer in enumerate(chain):
        if isinstance(layer, NO_OPS):
            continue
        if isinstance(layer, SYNAPSES) and not pending:
            pending = [(index, layer)]
        elif isinstance(layer, NORMS) and len(pending) == 1:
            pending.append((index, layer))
        elif isinstance(layer, NEURONS) and pending:
            (start, synapse), norm = pending[0], (pending[1][1] if len(pending) == 2 else None)
            grouped.append(Stage(start, synapse, norm, index, layer))
            pending = []
        elif isinstance(layer, nn.Flatten) and not pending:
            grouped.append(layer)
        elif pending:
            start, synapse = pending[0]
            raise ExportError(f"{_where(start, synapse)} is followed by {type(layer).__name__}, not by an snn.Leaky or "
                              "snn.Synaptic: on Loihi every synapse feeds a neuron")
        else:
            supported = "Linear, Conv2d, ConvTranspose2d, BatchNorm1d/2d, Flatten, snn.Leaky, snn.Synaptic"
            raise ExportError(f"{_where(index, layer)} cannot be exported to netx here (supported: {supported}; "
                              "a neuron needs a synapse before it)")
    if pending:
        raise ExportError(f"{_where(*pending[0])} ends the network without a neuron: on Loihi every synapse feeds "
                          "a neuron")
    if not any(isinstance(stage, Stage) for stage in grouped):
        raise ExportError("the network has no synapse with a neuron: nothing to run on Loihi")
    return grouped


def _one_value(tensor: torch.Tensor | float, name: str, where: str) -> float:
    values = torch.as_tensor(tensor).detach().double().flatten()
    if values.numel() == 0 or not bool((values == values[0]).all()):
        raise ExportError(f"{where}: {name} differs between neurons; netx has one {name} per layer")
    return float(values[0])


def neuron_record(neuron: nn.Module, where: str, weight_scale: float) -> CubaNeuron:
    """The CUBA parameters of an ``snn.Leaky`` / ``snn.Synaptic``, or a one-line refusal of what Lava cannot run."""
    if neuron.reset_mechanism != "zero":
        raise ExportError(f"{where}: reset_mechanism={neuron.reset_mechanism!r}, but Lava's LIF resets the voltage "
                          "to zero; train with reset_mechanism='zero'")
    if isinstance(neuron, snn.Synaptic) and neuron.reset_delay:
        raise ExportError(f"{where}: with reset_delay=True snnTorch's Synaptic also drops the input of the step "
                          "after a spike, which Lava's LIF does not; use reset_delay=False (the same spikes "
                          "as Lava)")
    for flag, why in (("inhibition", "lateral inhibition"), ("state_quant", "state quantization")):
        if getattr(neuron, flag):
            raise ExportError(f"{where}: {flag} ({why}) has no Loihi CUBA equivalent")
    if _one_value(neuron.graded_spikes_factor, "graded_spikes_factor", where) != 1.0:
        raise ExportError(f"{where}: graded spikes (graded_spikes_factor != 1) are not run by neurovae's backends")
    beta = min(max(_one_value(neuron.beta, "beta", where), 0.0), 1.0)  # snnTorch clamps beta to [0, 1]
    try:
        params = LIFParams(beta=beta, threshold=_one_value(neuron.threshold, "threshold", where))
    except ValueError as error:
        raise ExportError(f"{where}: {error}") from None
    record = cuba_neuron(params, weight_scale)
    if isinstance(neuron, snn.Synaptic):
        alpha = min(max(_one_value(neuron.alpha, "alpha", where), 0.0), 1.0)
        record = dataclasses.replace(record, iDecay=DECAY_SCALE * (1.0 - alpha))
    return record


def _write_stage(stage: Stage, state: ExportState) -> None:
    where = _where(stage.synapse_at, stage.synapse)
    if isinstance(stage.synapse, nn.Linear) and len(state.shape) != 1:
        raise ExportError(f"{where} gets a {state.shape} input: flatten it first (nn.Flatten)")
    if not isinstance(stage.synapse, nn.Linear) and len(state.shape) != 3:
        raise ExportError(f"{where} needs a (C, H, W) input, got {state.shape}")
    neuron = neuron_record(stage.neuron, _where(stage.neuron_at, stage.neuron), state.weight_scale)
    try:
        layer = write_synapse(stage.synapse, stage.norm, neuron, state)
    except (NetxError, ValueError) as error:
        raise ExportError(f"{where}: {error}") from None
    if neuron.iDecay < DECAY_SCALE and layer.bias is not None and layer.bias.any():
        raise ExportError(f"{where}: a bias before a Synaptic with alpha > 0 cannot be exported: snnTorch adds it "
                          "to the synaptic current, where it accumulates, Lava to the voltage; use bias=False")


def snntorch_network(module: nn.Module, input_shape: tuple[int, ...], steps: int | None = None,
                     input_encoding: str = "spikes", weight_scale: float = 64.0) -> NetworkRecord:
    """The float netx record of an snnTorch network (device units = its units x ``weight_scale``).

    Args:
        module: an ``nn.Sequential``, or a module whose forward calls its layers as a chain
            (:func:`~neurovae.export.chain.sequential_chain`), of the layers in the module docstring.
        input_shape: one sample's shape, CHW or ``(features,)``.
        steps: time steps per sample, stored in the file (None: not stated).
        input_encoding: ``spikes`` (0/1 input) or ``direct`` (real values every step, e.g. an image).
        weight_scale: device units per unit of the model (64, lava-dl's).
    """
    shape = tuple(int(side) for side in input_shape)
    try:
        chain = sequential_chain(module, shape)
    except ChainError as error:
        raise ExportError(str(error)) from None
    state = ExportState(shape=shape, weight_scale=weight_scale, layers=[InputLayer(shape=shape)])
    for stage in stages(chain):
        if isinstance(stage, Stage):
            _write_stage(stage, state)
        elif stage.start_dim != 1 or stage.end_dim not in (-1, len(state.shape)):
            raise ExportError(f"Flatten(start_dim={stage.start_dim}, end_dim={stage.end_dim}) must flatten a whole "
                              "sample: use nn.Flatten()")
        elif len(state.shape) > 1:
            write_flatten(stage, state)
    try:
        return NetworkRecord(layers=tuple(state.layers), steps=steps, input_encoding=input_encoding,
                             weight_scale=weight_scale, model_config=json.dumps({"snntorch": type(module).__name__}))
    except NetxError as error:
        raise ExportError(f"exported network is invalid: {error}") from None


def export_netx(module: nn.Module, path: str | os.PathLike, input_shape: tuple[int, ...], precision: str = "float",
                steps: int | None = None, input_encoding: str = "spikes", weight_scale: float = 64.0) -> NetworkRecord:
    """Write an snnTorch network as a netx file that Lava and the emulator run with the same spikes.

    The exported network is the module in eval mode (batch norms with their running statistics, no dropout) and
    runs with Lava's timing (:func:`~neurovae.export.chain.lava_timed_forward`). The model is not changed.
    ``precision='fixed'`` quantizes to Loihi's formats with per-layer scales
    (:func:`~neurovae.export.quantize_network`); ``weight_scale`` is then only the float record's unit. The file is
    written atomically; returns the record written.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.5, reset_mechanism="zero", init_hidden=True))
        >>> export_netx(net, "net.net", input_shape=(4,)).shapes  # doctest: +SKIP
        ((4,), (3,))
    """
    if precision not in PRECISIONS:
        raise ExportError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}")
    network = snntorch_network(module, input_shape, steps, input_encoding, weight_scale)
    if precision == "fixed":
        try:
            network = quantize_network(network)
        except QuantizationError as error:
            raise ExportError(str(error)) from None
    write_netx(network, path)
    return network
