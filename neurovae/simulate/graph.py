"""Build one Lava process graph from a :class:`~neurovae.netx.NetworkRecord` (imports Lava: load lazily).

Layer by layer: ``input`` -> a ``RingBuffer`` source holding every sample's frames back to back; ``dense`` ->
Lava ``Dense`` + ``LIFReset``; ``conv`` -> Lava ``Conv`` + ``LIFReset``; ``convT`` -> neurovae's ``ConvT`` +
``LIFReset``; ``flatten`` -> a transposed, flattened port (WHC -> CHW -> C-order vector, as netx does). Each
neuron's spikes go to a ``RingBuffer`` sink; the last layer's voltage is read by a ``Read`` process at the
last step of every sample (and every layer's voltage at every step when asked).

A neuron record with a lower voltage bound (``vMinMant``) becomes neurovae's ``LIFResetBounded`` (float
``v_min = vMinMant``, fixed ``v_min = vMinMant``, shifted by 6 bits inside the model), else Lava's ``LIFReset``.

Per-sample reset: neurons are Lava's ``LIFReset(reset_interval=T, reset_offset=1)`` (``u = v = 0`` at steps
1, T+1, ...) and synapses run :mod:`neurovae.simulate.reset_models` / ConvT models that zero their held
output at the same steps, so sample n (steps nT+1 .. nT+T) equals a fresh network run on it alone.

Parameter mapping (device units; see :mod:`neurovae.netx.neuron`): float: ``du = iDecay/4096``,
``dv = vDecay/4096``, ``vth = vThMant``, ``bias_mant = bias``; fixed (as stock netx): ``du = iDecay - 1``,
``dv = vDecay``, ``vth = vThMant``, ``bias_mant = bias``, ``bias_exp = 6``, dense weights through netx's
``optimize_weight_bits``, conv weights as they are.

Direct (graded) input in fixed point: an input x is sent as the graded spike ``round(x * 64)``
(``num_message_bits = 24``) and the first synapse scales its sum by ``2**-6`` (``weight_exp - 6``, an
arithmetic shift, i.e. floor). The first layer's input current is then ``floor(W @ round(64 x) / 64)``:
exact when ``64 x`` is whole and the sum divisible by 64, otherwise within one device unit of ``W @ x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.io.sink import Read
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIFReset

from neurovae.netx import ConvLayer, ConvTLayer, DenseLayer, FlattenLayer, InputLayer, Layer, NetworkRecord
from neurovae.simulate import recorders, reset_models
from neurovae.simulate.bounded_lif import models as bounded_models
from neurovae.simulate.bounded_lif.process import LIFResetBounded
from neurovae.simulate.convt import models as convt_models
from neurovae.simulate.convt.process import ConvT
from neurovae.simulate.fixed import optimize_weight_bits

GRADED_BITS = 24
"""Message bits of graded (direct-encoded) input spikes."""
GRADED_EXP = 6
"""Fixed point direct input: x is sent as round(x * 2**GRADED_EXP)."""
FIXED_STATE_EXP = 6
"""Lava's fixed-point LIF holds u and v shifted left by 6 bits; voltages are reported divided by 2**6."""


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """CHW -> WHC (Lava's x, y, channel order); vectors unchanged."""
    return tuple(reversed(shape))


def to_lava(array: np.ndarray, ndim: int) -> np.ndarray:
    """``[N, *CHW, T]`` -> ``[*WHC, N*T]`` (samples back to back in time)."""
    n, steps = array.shape[0], array.shape[-1]
    axes = tuple(range(ndim, 0, -1)) + (0, ndim + 1)
    return array.transpose(axes).reshape(array.shape[ndim:0:-1] + (n * steps,))


def from_lava(array: np.ndarray, n: int, steps: int) -> np.ndarray:
    """``[*WHC, N*T]`` -> ``[N, *CHW, T]``."""
    ndim = array.ndim - 1
    split = array.reshape(array.shape[:-1] + (n, steps))
    return split.transpose((ndim,) + tuple(range(ndim - 1, -1, -1)) + (ndim + 1,))


def to_chw(array: np.ndarray, shape: tuple[int, ...], flat: bool, samples: int, steps: int) -> np.ndarray:
    """A neuron record ``[*lava_shape, N*T]`` as ``[N, *shape, T]``.

    ``flat``: the neurons of a dense layer, a vector in the C order of their CHW ``shape``.
    """
    if not flat:
        return from_lava(array, samples, steps)
    split = array.reshape(tuple(shape) + (samples, steps))
    return split.transpose((len(shape),) + tuple(range(len(shape))) + (len(shape) + 1,))


def run_config(precision: str) -> Loihi2SimCfg:
    """The run configuration: Lava's models by tag, neurovae's window-reset synapse models by exception."""
    if precision == "float":
        models = {Dense: reset_models.WindowDenseFloat, Conv: reset_models.WindowConvFloat,
                  ConvT: convt_models.PyConvTModelFloat, Sink: recorders.FileSinkFloat,
                  Read: recorders.FileReadFloat, LIFResetBounded: bounded_models.PyLifResetBoundedFloat}
        return Loihi2SimCfg(select_tag="floating_pt", exception_proc_model_map=models)
    models = {Dense: reset_models.WindowDenseFixed, Conv: reset_models.WindowConvFixed,
              ConvT: convt_models.PyConvTModelFixed, Sink: recorders.FileSinkFixed, Read: recorders.FileReadFixed,
              LIFResetBounded: bounded_models.PyLifResetBoundedFixed}
    return Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)


def _neuron(layer: Layer, shape: tuple[int, ...], precision: str, steps: int) -> LIFReset:
    neuron = layer.neuron
    bias = np.zeros(shape) if layer.bias is None else np.broadcast_to(layer.bias, shape).copy()
    if precision == "float":
        params: dict[str, Any] = dict(du=neuron.iDecay / 4096, dv=neuron.vDecay / 4096, vth=neuron.vThMant,
                                      bias_mant=bias.astype(float), bias_exp=0)
    else:
        params = dict(du=int(neuron.iDecay) - 1, dv=int(neuron.vDecay), vth=int(neuron.vThMant),
                      bias_mant=np.trunc(bias).astype(np.int32), bias_exp=6)
    if neuron.vMinMant is not None:
        v_min = float(neuron.vMinMant) if precision == "float" else int(neuron.vMinMant)
        return LIFResetBounded(shape=shape, reset_interval=steps, reset_offset=1, v_min=v_min, **params)
    return LIFReset(shape=shape, reset_interval=steps, reset_offset=1, **params)


def _synapse(layer: Layer, in_shape: tuple[int, ...], out_shape: tuple[int, ...], precision: str,
             message_bits: int, extra_exp: int, steps: int) -> Any:
    fixed = precision == "fixed"
    weight = np.trunc(layer.weight).astype(np.int32) if fixed else np.asarray(layer.weight, dtype=float)
    if isinstance(layer, DenseLayer):
        kwargs: dict[str, Any] = {}
        if fixed:
            weight, bits, exp, _ = optimize_weight_bits(weight)
            kwargs = dict(weight_exp=exp + extra_exp, num_weight_bits=bits)
        proc = Dense(weights=weight, num_message_bits=message_bits, **kwargs)
    elif isinstance(layer, ConvLayer):
        proc = Conv(weight=weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1).copy(), input_shape=lava_shape(in_shape),
                    stride=layer.stride[::-1], padding=layer.padding[::-1], dilation=layer.dilation[::-1],
                    groups=layer.groups, num_message_bits=message_bits, weight_exp=extra_exp)
    elif isinstance(layer, ConvTLayer):
        proc = ConvT(weight=weight, input_shape=lava_shape(in_shape), output_shape=lava_shape(out_shape),
                     stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                     output_padding=layer.output_padding(in_shape), groups=layer.groups, weight_exp=extra_exp,
                     num_message_bits=message_bits, reset_interval=steps)
    else:  # pragma: no cover - the registry and this builder are kept in step by the tests
        raise TypeError(f"no Lava synapse for {layer.type}")
    if "reset_interval" not in proc.proc_params._parameters:  # ConvT takes it as an argument
        proc.proc_params["reset_interval"] = steps
    return proc


@dataclass
class LavaGraph:
    """The processes of one built network and the ``.npy`` files its records are written to."""

    source: Source
    neurons: dict[int, LIFReset] = field(default_factory=dict)
    spike_files: dict[int, Path] = field(default_factory=dict)
    voltage_files: dict[int, Path] = field(default_factory=dict)
    readout_file: Path | None = None
    shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    flat: set[int] = field(default_factory=set)

    def to_chw(self, index: int, array: np.ndarray, samples: int, steps: int) -> np.ndarray:
        """A record of layer ``index`` (``[*lava_shape, N*T]``) as ``[N, *shape, T]`` (CHW)."""
        return to_chw(array, self.shapes[index], index in self.flat, samples, steps)


def build_graph(network: NetworkRecord, frames: np.ndarray, samples: int, steps: int, precision: str,
                direct: bool, record_voltage: bool, record_dir: Path) -> LavaGraph:
    """Build the graph for ``samples`` windows of ``steps`` steps whose input is ``frames`` ``[*WHC, N*T]``.

    Records are written to ``.npy`` files in ``record_dir`` (see :mod:`neurovae.simulate.recorders`).
    """
    total = samples * steps
    graph = LavaGraph(source=Source(data=frames))
    port = graph.source.s_out
    shape = network.input_shape
    message_bits = GRADED_BITS if direct else 0
    extra_exp = -GRADED_EXP if direct and precision == "fixed" else 0
    for index, (layer, out_shape) in enumerate(zip(network.layers, network.shapes, strict=True)):
        if isinstance(layer, InputLayer):
            continue
        if isinstance(layer, FlattenLayer):
            if len(shape) == 3:
                port = port.transpose([2, 1, 0]).flatten()
            shape = out_shape
            continue
        synapse = _synapse(layer, shape, out_shape, precision, message_bits, extra_exp, steps)
        port.connect(synapse.s_in)
        flat = isinstance(layer, DenseLayer)
        neuron_shape = (layer.outFeatures,) if flat else lava_shape(out_shape)
        neuron = _neuron(layer, neuron_shape, precision, steps)
        synapse.a_out.connect(neuron.a_in)
        sink = Sink(shape=neuron_shape, buffer=1)
        neuron.s_out.connect(sink.a_in)
        graph.spike_files[index] = record_dir / f"spikes_{index}.npy"
        recorders.attach_record(sink, graph.spike_files[index], neuron_shape, total, np.int8)
        graph.neurons[index], graph.shapes[index] = neuron, out_shape
        if flat:
            graph.flat.add(index)
        if record_voltage:
            reader = Read(buffer=1)
            reader.connect_var(neuron.v)
            graph.voltage_files[index] = record_dir / f"voltage_{index}.npy"
            recorders.attach_record(reader, graph.voltage_files[index], neuron_shape, total, np.float64)
        port = neuron.s_out
        if flat and len(out_shape) == 3:  # a dense layer viewed as CHW feeds a convolution: WHC ports
            port = port.reshape(out_shape).transpose([2, 1, 0])
        shape, message_bits, extra_exp = out_shape, 0, 0
    last = max(graph.neurons)
    reader = Read(buffer=1, interval=steps, offset=steps - 1)
    reader.connect_var(graph.neurons[last].v)
    graph.readout_file = record_dir / "readout.npy"
    recorders.attach_record(reader, graph.readout_file, graph.neurons[last].v.shape, samples, np.float64)
    return graph
