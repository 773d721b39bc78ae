"""How many synapses leave each input neuron (fan-out) and reach each output neuron (fan-in) of a netx layer.

Both are read off the layer's own synapse op (the emulator's float op, the one Lava's ``floating_pt`` equals)
run on a 0/1 weight mask, so convolution borders, strides, padding, groups and transposed convolutions are
counted exactly, by the same code that computes the spikes: fan-in is the op applied to all-ones input, and
fan-out is its transpose, the gradient of the summed output with respect to the input.

Example:
    >>> layer = DenseLayer(np.array([[1.0, 0.0], [2.0, 3.0]]), CubaNeuron())
    >>> fan_out(layer, (2,)).tolist(), fan_in(layer, (2,)).tolist()
    ([2, 1], [1, 2])
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from neurovae.netx import ConvLayer, ConvTLayer, CubaNeuron, DenseLayer, InputNeuronLayer  # noqa: F401 - doctest names
from neurovae.simulate.emulator.synapses import SYNAPSES, SynapseSpec

SynapticLayer = DenseLayer | ConvLayer | ConvTLayer | InputNeuronLayer


def _mask_op(layer: SynapticLayer, input_shape: tuple[int, ...], structural: bool):
    """The layer's float synapse op with every (non-zero, unless ``structural``) weight replaced by 1."""
    weight = np.ones_like(layer.weight) if structural else (layer.weight != 0).astype(np.float64)
    masked = dataclasses.replace(layer, weight=weight)
    spec = SynapseSpec(in_shape=tuple(input_shape), out_shape=tuple(layer.output_shape(tuple(input_shape))),
                       precision="float")
    return SYNAPSES[layer.type](masked, spec)


def fan_in(layer: SynapticLayer, input_shape: tuple[int, ...], structural: bool = False) -> np.ndarray:
    """Input connections of every neuron of ``layer`` (its CHW shape), borders counted exactly.

    Args:
        layer: a dense, conv or convT record (or an input neuron group, which no synapse reaches: zeros).
        input_shape: the layer's CHW input shape.
        structural: count every connection the layer's geometry makes (what a core stores), not only those
            with a non-zero weight (what an event actually costs).
    """
    if isinstance(layer, InputNeuronLayer):  # driven by its bias: no synapse reaches it
        return np.zeros(layer.shape, dtype=np.int64)
    op = _mask_op(layer, input_shape, structural)
    ones = torch.ones((1, *input_shape), dtype=torch.float64)
    return op(ones)[0].round().long().numpy()


def fan_out(layer: SynapticLayer, input_shape: tuple[int, ...], structural: bool = False) -> np.ndarray:
    """Output connections of every input neuron of ``layer`` (``input_shape``).

    That is the number of synaptic operations one input spike there costs (see :func:`fan_in` for the arguments).
    """
    if isinstance(layer, InputNeuronLayer):
        return np.zeros(input_shape, dtype=np.int64)
    op = _mask_op(layer, input_shape, structural)
    ones = torch.ones((1, *input_shape), dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        op(ones).sum().backward()
    return ones.grad[0].round().long().numpy()
