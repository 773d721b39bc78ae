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
output at the same steps, so sample n (steps nT+1 .. nT+T) equals a fresh network run on it alone. With a
netx :class:`~neurovae.simulate.schedule.ResetSchedule` instead, the k-th layer with neurons is
``LIFReset(reset_interval=R, reset_offset=K + 1 + k)`` and no synapse is ever reset, as lava-dl's netx builds it.

An input layer with neurons (a SLAYER Input block, ``input_encoding='bias'``) is an ``LIFReset`` group whose
``bias_mant`` Lava's own ``StateDataloader`` sets to each sample's ``weight * x + bias`` at the sample's first
step, as lava-dl's examples drive such networks; no source feeds it.

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
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.io.dataloader import StateDataloader
from lava.proc.io.sink import Read
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIFReset

from neurovae.netx import (
    ConvLayer,
    ConvTLayer,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    InputNeuronLayer,
    Layer,
    NetworkRecord,
)
from neurovae.simulate import recorders, reset_models
from neurovae.simulate.bounded_lif import models as bounded_models
from neurovae.simulate.bounded_lif.process import LIFResetBounded
from neurovae.simulate.convt import models as convt_models
from neurovae.simulate.convt.process import ConvT
from neurovae.simulate.fixed import GRADED_EXP, optimize_weight_bits
from neurovae.simulate.schedule import ResetSchedule

GRADED_BITS = 24
"""Message bits of graded (direct-encoded) input spikes."""
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


@dataclass(frozen=True)
class Resets:
    """When the neuron groups and synapses of a graph are zeroed.

    Attributes:
        interval: ``LIFReset``'s ``reset_interval``.
        first_offset: the first neuron group's ``reset_offset``.
        staggered: the k-th neuron group resets k steps after the first (netx); else all at once.
        synapse_interval: the synapses' window (0: never reset).
    """

    interval: int
    first_offset: int
    staggered: bool
    synapse_interval: int

    @classmethod
    def choose(cls, steps: int, schedule: ResetSchedule | None) -> Resets:
        """Per-sample windows of ``steps`` steps, or netx's ``schedule``."""
        if schedule is None:
            return cls(interval=steps, first_offset=1, staggered=False, synapse_interval=steps)
        return cls(interval=schedule.interval, first_offset=schedule.offset + 1, staggered=True, synapse_interval=0)

    def offset(self, order: int) -> int:
        """``reset_offset`` of the ``order``-th neuron group."""
        return self.first_offset + order if self.staggered else self.first_offset


def _neuron(layer: Layer, shape: tuple[int, ...], precision: str, interval: int, offset: int,
            bias: np.ndarray | None = None) -> LIFReset:
    """The layer's neuron group; ``bias`` (device units, Lava's shape) replaces the layer's own bias."""
    neuron = layer.neuron
    if bias is None:
        bias = np.zeros(shape) if layer.bias is None else np.broadcast_to(layer.bias, shape).copy()
    if precision == "float":
        params: dict[str, Any] = dict(du=neuron.iDecay / 4096, dv=neuron.vDecay / 4096, vth=neuron.vThMant,
                                      bias_mant=bias.astype(float), bias_exp=0)
    else:
        params = dict(du=int(neuron.iDecay) - 1, dv=int(neuron.vDecay), vth=int(neuron.vThMant),
                      bias_mant=np.trunc(bias).astype(np.int32), bias_exp=6)
    if neuron.vMinMant is not None:
        v_min = float(neuron.vMinMant) if precision == "float" else int(neuron.vMinMant)
        return LIFResetBounded(shape=shape, reset_interval=interval, reset_offset=offset, v_min=v_min, **params)
    return LIFReset(shape=shape, reset_interval=interval, reset_offset=offset, **params)


def _synapse(layer: Layer, in_shape: tuple[int, ...], out_shape: tuple[int, ...], precision: str,
             message_bits: int, extra_exp: int, reset_interval: int) -> Any:
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
                     num_message_bits=message_bits, reset_interval=reset_interval)
    else:  # pragma: no cover - the registry and this builder are kept in step by the tests
        raise TypeError(f"no Lava synapse for {layer.type}")
    if "reset_interval" not in proc.proc_params._parameters:  # ConvT takes it as an argument
        proc.proc_params["reset_interval"] = reset_interval
    return proc


class _SampleBiases:
    """The dataset ``StateDataloader`` indexes: sample n's bias with a placeholder label."""

    def __init__(self, biases: np.ndarray) -> None:
        self.biases = biases

    def __len__(self) -> int:
        return len(self.biases)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.biases[index], 0


def bias_loader(biases: np.ndarray, steps: int) -> StateDataloader:
    """Lava's ``StateDataloader`` writing ``biases[n + 1]`` after the last step of sample n.

    Steps are counted from 1, so that is step ``(n + 1) * steps``; sample 0's bias is the neurons' initial value.
    """
    following = biases[1:] if len(biases) > 1 else biases
    return StateDataloader(dataset=_SampleBiases(following), interval=steps, offset=steps - 1)


@dataclass
class LavaGraph:
    """The processes of one built network and the ``.npy`` files its records are written to.

    ``source`` is the process whose ``run`` runs the graph: the input's ``RingBuffer``, or the ``StateDataloader``
    of an input neuron group's bias.
    """

    source: AbstractProcess
    neurons: dict[int, LIFReset] = field(default_factory=dict)
    spike_files: dict[int, Path] = field(default_factory=dict)
    voltage_files: dict[int, Path] = field(default_factory=dict)
    readout_file: Path | None = None
    shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    flat: set[int] = field(default_factory=set)

    def to_chw(self, index: int, array: np.ndarray, samples: int, steps: int) -> np.ndarray:
        """A record of layer ``index`` (``[*lava_shape, N*T]``) as ``[N, *shape, T]`` (CHW)."""
        return to_chw(array, self.shapes[index], index in self.flat, samples, steps)

    def record(self, index: int, neuron: LIFReset, out_shape: tuple[int, ...], flat: bool, total: int,
               record_voltage: bool, record_dir: Path) -> None:
        """Record the spikes (and voltages) of layer ``index``'s neurons into ``.npy`` files."""
        shape = tuple(neuron.s_out.shape)
        sink = Sink(shape=shape, buffer=1)
        neuron.s_out.connect(sink.a_in)
        self.spike_files[index] = record_dir / f"spikes_{index}.npy"
        recorders.attach_record(sink, self.spike_files[index], shape, total, np.int8)
        self.neurons[index], self.shapes[index] = neuron, out_shape
        if flat:
            self.flat.add(index)
        if record_voltage:
            reader = Read(buffer=1)
            reader.connect_var(neuron.v)
            self.voltage_files[index] = record_dir / f"voltage_{index}.npy"
            recorders.attach_record(reader, self.voltage_files[index], shape, total, np.float64)


def build_graph(network: NetworkRecord, frames: np.ndarray, samples: int, steps: int, precision: str,
                direct: bool, record_voltage: bool, record_dir: Path,
                schedule: ResetSchedule | None = None) -> LavaGraph:
    """Build the graph for ``samples`` windows of ``steps`` steps whose input is ``frames`` ``[*WHC, N*T]``.

    For a bias-driven network ``frames`` holds each sample's input values ``[*WHC, N]`` instead. Records are
    written to ``.npy`` files in ``record_dir`` (see :mod:`neurovae.simulate.recorders`).
    """
    total = samples * steps
    resets = Resets.choose(steps, schedule)
    first = network.layers[0]
    graph: LavaGraph | None = None
    port = None
    if not isinstance(first, InputNeuronLayer):
        graph = LavaGraph(source=Source(data=frames))
        port = graph.source.s_out
    shape = network.input_shape
    message_bits = GRADED_BITS if direct else 0
    extra_exp = -GRADED_EXP if direct and precision == "fixed" else 0
    order = 0
    for index, (layer, out_shape) in enumerate(zip(network.layers, network.shapes, strict=True)):
        if isinstance(layer, InputNeuronLayer):
            biases = layer.input_bias(np.moveaxis(frames, -1, 0), precision)  # [N, *WHC]
            neuron = _neuron(layer, lava_shape(out_shape), precision, resets.interval, resets.offset(order),
                             bias=biases[0])
            graph = LavaGraph(source=bias_loader(biases, steps))
            graph.source.connect_var(neuron.bias_mant)
            flat = False
        elif isinstance(layer, InputLayer):
            continue
        elif isinstance(layer, FlattenLayer):
            if len(shape) == 3:
                port = port.transpose([2, 1, 0]).flatten()
            shape = out_shape
            continue
        else:
            synapse = _synapse(layer, shape, out_shape, precision, message_bits, extra_exp, resets.synapse_interval)
            port.connect(synapse.s_in)
            flat = isinstance(layer, DenseLayer)
            neuron_shape = (layer.outFeatures,) if flat else lava_shape(out_shape)
            neuron = _neuron(layer, neuron_shape, precision, resets.interval, resets.offset(order))
            synapse.a_out.connect(neuron.a_in)
        graph.record(index, neuron, out_shape, flat, total, record_voltage, record_dir)
        order += 1
        port = neuron.s_out
        if flat and len(out_shape) == 3 and _feeds_convolution(network, index):  # a CHW view of dense neurons
            port = port.reshape(out_shape).transpose([2, 1, 0])
        shape, message_bits, extra_exp = out_shape, 0, 0
    last = max(graph.neurons)
    reader = Read(buffer=1, interval=steps, offset=steps - 1)
    reader.connect_var(graph.neurons[last].v)
    graph.readout_file = record_dir / "readout.npy"
    recorders.attach_record(reader, graph.readout_file, graph.neurons[last].v.shape, samples, np.float64)
    return graph


def _feeds_convolution(network: NetworkRecord, index: int) -> bool:
    """Whether layer ``index + 1`` is a convolution (which takes a dense layer's neurons as a WHC image)."""
    return index + 1 < len(network.layers) and isinstance(network.layers[index + 1], ConvLayer | ConvTLayer)
