"""A registry of small writers: one function per exportable PyTorch layer type -> a netx layer record.

Walking a :class:`~neurovae.neurons.SpikingStack`, each layer is looked up by type in :data:`WRITERS`
(a table, not a chain of isinstance tests) and turned into a :mod:`neurovae.netx` record, in device
units (training units x ``weight_scale``), with tdBN folded into the synapse. Nothing here changes the
model: weights are copied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

from neurovae.netx import ConvLayer, ConvTLayer, CubaNeuron, DenseLayer, FlattenLayer, Layer
from neurovae.neurons import SpikingBlock, TimeFlatten, TimeUnflatten, fold_into_synapse
from neurovae.neurons.lif import LIFParams

READOUT_THRESHOLD = float((1 << 17) - 1)  # the largest Loihi threshold mantissa: a readout never reaches it


@dataclass
class ExportState:
    """What the walk knows so far: the current activation shape (CHW) and the records written."""

    shape: tuple[int, ...]
    weight_scale: float
    layers: list[Layer]


Writer = Callable[[nn.Module, ExportState], None]
WRITERS: dict[type, Writer] = {}
SYNAPSE_WRITERS: dict[type, Callable[[nn.Module, np.ndarray, np.ndarray, CubaNeuron, ExportState], Layer]] = {}


def writes(module_type: type, table: dict = WRITERS) -> Callable:
    """Decorator registering a writer for ``module_type`` in ``table``."""

    def register(function: Callable) -> Callable:
        table[module_type] = function
        return function

    return register


def cuba_neuron(params: LIFParams, weight_scale: float) -> CubaNeuron:
    """Netx CUBA parameters of a LIF population (see :mod:`neurovae.neurons.lif` for the mapping)."""
    cuba = params.to_cuba(weight_scale)
    threshold = cuba["vThMant"] if params.spiking else READOUT_THRESHOLD
    return CubaNeuron(iDecay=cuba["iDecay"], vDecay=cuba["vDecay"], vThMant=threshold, vMinMant=cuba.get("vMinMant"))


@writes(SpikingBlock)
def write_block(block: SpikingBlock, state: ExportState) -> None:
    """A neurovae block: its LIF's CUBA parameters, then :func:`write_synapse`."""
    write_synapse(block.synapse, block.norm, cuba_neuron(block.neuron.params, state.weight_scale), state)


def write_synapse(synapse: nn.Module, norm: nn.Module | None, neuron: CubaNeuron, state: ExportState) -> Layer:
    """Append the layer of ``synapse`` (batch norm folded in, scaled to device units) with ``neuron``; return it."""
    out_axis = 1 if isinstance(synapse, nn.ConvTranspose2d) else 0
    weight, bias = fold_into_synapse(synapse.weight, synapse.bias, norm, out_axis=out_axis)
    scale = state.weight_scale
    layer = SYNAPSE_WRITERS[type(synapse)](synapse, weight.double().numpy() * scale, bias.double().numpy() * scale,
                                           neuron, state)
    state.layers.append(layer)
    state.shape = tuple(layer.output_shape(state.shape))
    return layer


@writes(nn.Linear, SYNAPSE_WRITERS)
def write_dense(_linear: nn.Linear, weight: np.ndarray, bias: np.ndarray, neuron: CubaNeuron,
                _state: ExportState) -> Layer:
    """``nn.Linear`` -> netx ``dense``."""
    return DenseLayer(weight=weight, neuron=neuron, bias=bias)


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _conv_output_side(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@writes(nn.Conv2d, SYNAPSE_WRITERS)
def write_conv(conv: nn.Conv2d, weight: np.ndarray, bias: np.ndarray, neuron: CubaNeuron,
               state: ExportState) -> Layer:
    """``nn.Conv2d`` (zero padding) -> netx ``conv`` (OIHW weights)."""
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ValueError(f"Conv2d padding {conv.padding!r}/{conv.padding_mode} cannot be exported; use int padding")
    kernel, stride, padding, dilation = (_pair(v) for v in (conv.kernel_size, conv.stride, conv.padding, conv.dilation))
    side = [_conv_output_side(state.shape[1 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(2)]
    return ConvLayer(weight=weight, neuron=neuron, shape=(conv.out_channels, *side), stride=stride,
                     padding=padding, dilation=dilation, groups=conv.groups, bias=bias)


@writes(nn.ConvTranspose2d, SYNAPSE_WRITERS)
def write_conv_transpose(conv: nn.ConvTranspose2d, weight: np.ndarray, bias: np.ndarray, neuron: CubaNeuron,
                         state: ExportState) -> Layer:
    """``nn.ConvTranspose2d`` -> netx ``convT`` (IOHW weights; output padding implied by ``shape``)."""
    kernel, stride, padding, dilation, extra = (
        _pair(v) for v in (conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.output_padding))
    side = [(state.shape[1 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + extra[i] + 1
            for i in range(2)]
    return ConvTLayer(weight=weight, neuron=neuron, shape=(conv.out_channels, *side), stride=stride,
                      padding=padding, dilation=dilation, groups=conv.groups, bias=bias)


@writes(TimeFlatten)
def write_flatten(_flatten: nn.Module, state: ExportState) -> None:
    """Flatten -> netx ``flatten`` (shape ``(C*H*W, 1, 1)`` as SLAYER writes it)."""
    size = int(np.prod(state.shape))
    state.layers.append(FlattenLayer(shape=(size, 1, 1)))
    state.shape = (size,)


@writes(TimeUnflatten)
def write_unflatten(unflatten: TimeUnflatten, state: ExportState) -> None:
    """Unflatten after a dense layer: the dense layer's neurons are laid out CHW, so set its shape."""
    previous = state.layers[-1] if state.layers else None
    if not isinstance(previous, DenseLayer) or int(np.prod(unflatten.shape)) != previous.outFeatures:
        raise ValueError(f"an unflatten to {unflatten.shape} must directly follow a dense layer of that size")
    state.layers[-1] = dataclasses.replace(previous, shape=tuple(unflatten.shape))
    state.shape = tuple(unflatten.shape)
