"""netx network -> NIR graph (``neurovae export --nir``): :mod:`neurovae.export.from_nir`'s mapping, inverted.

Each spiking layer becomes a synapse node (``Affine``, or ``Linear`` without a bias; ``Conv2d``) and a neuron node
with one value per neuron, as snnTorch's exporter writes them: ``LIF`` (``tau = dt / dv``, ``r = tau / dt`` so that
the input gain is 1, ``v_leak = 0``) where the current does not persist (``iDecay = 4096``), ``IF`` (``r = 1``)
where the voltage does not leak either, and ``CubaLIF`` (``tau_syn = dt / du``, ``w_in = tau_syn / dt``) where the
current decays over several steps; ``v_reset = 0``, thresholds and weights in the model's units (device units over
the layer's scale). Reading the graph back (neurovae, or snnTorch's ``import_from_nir``) gives the same decays,
thresholds and weights. The graph's metadata keep ``dt``, ``steps``, ``input_encoding`` and ``readout``.

Refused, in one line naming the layer: ``convT`` (NIR 1.0 has no transposed convolution), a convolution reading a
dense layer's neurons as ``(C, H, W)`` (NIR has no reshape), a voltage floor (``vMinMant``), a bias with a
decaying current (NIR adds it to the current), and SLAYER Input blocks with neurons.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from neurovae.export.export import ExportError
from neurovae.export.from_nir import DT
from neurovae.io import atomic_path
from neurovae.netx import (
    DECAY_SCALE,
    ConvLayer,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    InputNeuronLayer,
    Layer,
    NetworkRecord,
)

if TYPE_CHECKING:
    import nir


def _neuron_node(layer: Layer, shape: tuple[int, ...], unit: float, dt: float, where: str) -> nir.NIRNode:
    """The NIR neuron of a layer, or a one-line refusal."""
    import nir

    neuron = layer.neuron
    if neuron.vMinMant is not None:
        raise ExportError(f"{where}: its voltage floor (vMinMant) has no NIR equivalent")
    du, dv = neuron.iDecay / DECAY_SCALE, neuron.vDecay / DECAY_SCALE

    def full(value: float) -> np.ndarray:
        return np.full(shape, value, dtype=np.float64)

    threshold, zero = full(neuron.vThMant / unit), full(0.0)
    if du == 1 and dv == 0:
        return nir.IF(r=full(1.0), v_threshold=threshold, v_reset=zero)
    if du == 1:
        tau = dt / dv
        return nir.LIF(tau=full(tau), r=full(tau / dt), v_leak=zero, v_threshold=threshold, v_reset=zero)
    if du == 0 or dv == 0:
        raise ExportError(f"{where}: a current or voltage that never decays (iDecay or vDecay 0) with a decaying "
                          "other has no finite NIR time constant")
    if layer.bias is not None and np.any(layer.bias != 0):
        raise ExportError(f"{where}: Lava adds its bias to the voltage, NIR's CubaLIF to the decaying current; "
                          "NIR cannot state it")
    tau_syn, tau_mem = dt / du, dt / dv
    return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / dt), v_leak=zero,
                       v_threshold=threshold, v_reset=zero, w_in=full(tau_syn / dt))


def _synapse_node(layer: DenseLayer | ConvLayer, input_shape: tuple[int, ...], unit: float) -> nir.NIRNode:
    """The NIR synapse of a dense or conv layer, weights in the model's units."""
    import nir

    weight = np.asarray(layer.weight, dtype=np.float64) / unit
    bias = None if layer.bias is None else np.asarray(layer.bias, dtype=np.float64) / unit
    if isinstance(layer, DenseLayer):
        return nir.Linear(weight=weight) if bias is None else nir.Affine(weight=weight, bias=bias)
    channels = layer.shape[0]
    return nir.Conv2d(input_shape=tuple(input_shape[1:]), weight=weight, stride=layer.stride, padding=layer.padding,
                      dilation=layer.dilation, groups=layer.groups,
                      bias=np.zeros(channels) if bias is None else bias)


def netx_to_nir(network: NetworkRecord, dt: float = DT) -> nir.NIRGraph:
    """The ``nir.NIRGraph`` of a netx network, in the model's units (see the module docstring).

    Args:
        network: the record, e.g. from :func:`~neurovae.export.export_model` or :func:`~neurovae.netx.read_netx`.
        dt: seconds per step of the NIR time constants (snnTorch's 1e-4 by default).
    """
    import nir

    nodes = {"input": nir.Input(input_type={"input": np.array(network.input_shape)})}
    for index, layer in enumerate(network.layers):
        where = f"layer {index} ({layer.type})"
        input_shape = network.input_shapes[index]
        if isinstance(layer, InputNeuronLayer):
            raise ExportError(f"{where}: an input layer with neurons (a SLAYER Input block) has no NIR equivalent")
        if isinstance(layer, InputLayer):
            continue
        if isinstance(layer, FlattenLayer):
            nodes[f"layer{index}_flatten"] = nir.Flatten(input_type={"input": np.array(input_shape)}, start_dim=0)
            continue
        if not isinstance(layer, DenseLayer | ConvLayer):
            raise ExportError(f"{where}: NIR 1.0 has no transposed convolution node")
        source = network.layers[index - 1] if index else None
        if len(input_shape) == 3 and isinstance(source, DenseLayer):
            raise ExportError(f"{where} reads a dense layer's neurons as {input_shape}; NIR 1.0 has no reshape node")
        shape = (layer.outFeatures,) if isinstance(layer, DenseLayer) else network.shapes[index]
        unit = network.scale(index)
        nodes[f"layer{index}_synapse"] = _synapse_node(layer, input_shape, unit)
        nodes[f"layer{index}_neuron"] = _neuron_node(layer, shape, unit, dt, where)
    last = list(nodes.values())[-1]
    nodes["output"] = nir.Output(output_type={"output": np.array(last.output_type["output"])})
    names = list(nodes)
    metadata = {"dt": dt, "input_encoding": network.input_encoding, "readout": network.readout}
    if network.steps is not None:
        metadata["steps"] = network.steps
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:], strict=False)), metadata=metadata)


def write_nir(graph: nir.NIRGraph, path: str | os.PathLike) -> None:
    """Write a NIR graph to ``path`` atomically (``nir.write``; a failed write leaves no file)."""
    import nir

    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
