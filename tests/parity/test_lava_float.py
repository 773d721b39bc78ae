"""Float Lava runs equal neurovae's PyTorch contract spike for spike; batching equals separate runs.

The contract (every spiking layer l, step t, s_0 = input, s_l(-1) = 0):
    I_l(t) = W_l * s_{l-1}(t-1) + b_l
    v_l(t) = (1 - dv_l) * v_l(t-1) * (1 - s_l(t-1)) + I_l(t)
    s_l(t) = v_l(t) > vth_l
It is written out below in torch float64 as the slow, obvious reference.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("lava", reason="Lava (lava-nc) is not installed")

from neurovae.netx import (  # noqa: E402
    ConvLayer,
    ConvTLayer,
    CubaNeuron,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    NetworkRecord,
)
from neurovae.simulate import run_lava  # noqa: E402

NEVER = float((1 << 18) - 1)


def _synapse(layer, x: torch.Tensor, in_shape) -> torch.Tensor:
    w = torch.tensor(layer.weight, dtype=torch.float64)
    if isinstance(layer, DenseLayer):
        return F.linear(x, w).reshape((x.shape[0], *layer.shape))
    if isinstance(layer, ConvLayer):
        return F.conv2d(x, w, None, layer.stride, layer.padding, layer.dilation, layer.groups)
    return F.conv_transpose2d(x, w, None, layer.stride, layer.padding, layer.output_padding(in_shape),
                              layer.groups, layer.dilation)


def reference(network: NetworkRecord, inputs: np.ndarray) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """The contract, step by step, in float64: spikes ``{layer: [N, *shape, T]}`` and the last layer's
    voltage at the last step (after the reset of neurons that spiked then).
    """
    x = torch.tensor(inputs, dtype=torch.float64)
    samples, steps = x.shape[0], x.shape[-1]
    old = {i: torch.zeros((samples, *shape), dtype=torch.float64) for i, shape in enumerate(network.shapes)}
    volts = {i: torch.zeros_like(old[i]) for i in network.spiking_layers}
    spikes: dict[int, list[torch.Tensor]] = {i: [] for i in network.spiking_layers}
    for t in range(steps):
        new = {0: x[..., t]}
        for index, layer in enumerate(network.layers[1:], start=1):
            if isinstance(layer, FlattenLayer):  # a port reshape: no delay
                new[index] = new[index - 1].flatten(1)
                continue
            drive = _synapse(layer, old[index - 1], network.shapes[index - 1])  # s_{l-1}(t-1)
            if layer.bias is not None:
                bias = torch.tensor(layer.bias, dtype=torch.float64)
                per_neuron = isinstance(layer, DenseLayer)  # dense: one bias per neuron; conv: per channel
                drive = drive + (bias.reshape(drive.shape[1:]) if per_neuron else bias.reshape(-1, 1, 1))
            decay = layer.neuron.vDecay / 4096
            volts[index] = (1 - decay) * volts[index] * (1 - old[index]) + drive
            new[index] = (volts[index] > layer.neuron.vThMant).to(torch.float64)
            spikes[index].append(new[index])
        old = new
    out = {i: torch.stack(s, -1).numpy().astype(bool) for i, s in spikes.items()}
    last = network.spiking_layers[-1]
    return out, (volts[last] * (1 - old[last])).numpy()  # Lava reports v after the reset to 0


def _neuron(rng, never=False):
    return CubaNeuron(iDecay=4096, vDecay=float(rng.choice([0.0, 819.2, 1300.5])),
                      vThMant=NEVER if never else float(rng.uniform(0.8, 1.2)))


def dense_net(rng) -> NetworkRecord:
    return NetworkRecord(layers=(
        InputLayer((12,)),
        DenseLayer(rng.normal(0, 0.5, (10, 12)), _neuron(rng), bias=rng.normal(0, 0.1, 10)),
        DenseLayer(rng.normal(0, 0.6, (6, 10)), _neuron(rng), bias=rng.normal(0, 0.1, 6)),
    ))


def conv_net(rng, encoding="spikes") -> NetworkRecord:
    return NetworkRecord(layers=(
        InputLayer((2, 6, 6)),
        ConvLayer(rng.normal(0, 0.5, (4, 2, 3, 3)), _neuron(rng), (4, 3, 3), stride=(2, 2), padding=(1, 1),
                  bias=rng.normal(0, 0.1, 4)),
        FlattenLayer((36, 1, 1)),
        DenseLayer(rng.normal(0, 0.5, (5, 36)), _neuron(rng)),
    ), input_encoding=encoding)


def convt_net(rng) -> NetworkRecord:
    return NetworkRecord(layers=(
        InputLayer((6,)),
        DenseLayer(rng.normal(0, 0.8, (18, 6)), _neuron(rng), bias=rng.normal(0, 0.2, 18), shape=(2, 3, 3)),
        ConvTLayer(rng.normal(0, 0.6, (2, 3, 3, 3)), _neuron(rng), (3, 6, 6), stride=(2, 2), padding=(1, 1),
                   bias=rng.normal(0, 0.1, 3)),
        ConvTLayer(rng.normal(0, 0.5, (3, 2, 3, 3)), CubaNeuron(vDecay=819.2, vThMant=NEVER), (2, 6, 6),
                   padding=(1, 1), bias=rng.normal(0, 0.1, 2)),
    ), readout="voltage")


NETWORKS = {"dense": dense_net, "conv-flatten-dense": conv_net, "dense-convT-convT": convt_net,
            "direct-conv": lambda rng: conv_net(rng, "direct")}


def _inputs(rng, network, samples, steps):
    shape = (samples, *network.input_shape, steps)
    if network.input_encoding == "direct":
        return rng.uniform(0, 1, shape)
    return (rng.uniform(size=shape) < 0.4).astype(float)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_float_lava_equals_torch_contract(name):
    rng = np.random.default_rng(sorted(NETWORKS).index(name))
    network = NETWORKS[name](rng)
    inputs = _inputs(rng, network, 2, 8)
    expected, volts = reference(network, inputs)
    result = run_lava(network, inputs, precision="float", progress=False)
    assert set(result.spikes) == set(expected)
    for index, spikes in expected.items():
        assert result.spikes[index].shape == spikes.shape
        assert int((result.spikes[index] != spikes).sum()) == 0, f"layer {index}"
    assert sum(int(s.sum()) for s in expected.values()) > 0  # the comparison is not vacuous
    np.testing.assert_allclose(result.readout_voltage, volts, rtol=0, atol=1e-9)


def test_recorded_voltages_match_the_readout():
    rng = np.random.default_rng(11)
    network = convt_net(rng)
    inputs = _inputs(rng, network, 2, 5)
    result = run_lava(network, inputs, precision="float", record_voltage=True, progress=False)
    last = network.spiking_layers[-1]
    assert set(result.voltages) == set(network.spiking_layers)
    np.testing.assert_array_equal(result.voltages[last][..., -1], result.readout_voltage)
    assert result.output is result.readout_voltage


@pytest.mark.parametrize(("name", "precision"), [("dense-convT-convT", "float"), ("conv-flatten-dense", "fixed")])
def test_batch_equals_separate_runs(name, precision):
    rng = np.random.default_rng(5)
    network = NETWORKS[name](rng)
    if precision == "fixed":  # whole-number device parameters, as a quantized export writes them
        network = NetworkRecord(layers=tuple(_quantized(layer) for layer in network.layers), precision="fixed")
    inputs = _inputs(rng, network, 3, 6)
    batch = run_lava(network, inputs, precision=precision, progress=False)
    assert all(int(s.sum()) > 0 for s in batch.spikes.values() if s is not batch.spikes[max(batch.spikes)])
    for sample in range(3):
        alone = run_lava(network, inputs[sample:sample + 1], precision=precision, progress=False)
        for index, spikes in alone.spikes.items():
            np.testing.assert_array_equal(batch.spikes[index][sample:sample + 1], spikes)
        np.testing.assert_array_equal(batch.readout_voltage[sample:sample + 1], alone.readout_voltage)


def _quantized(layer):
    if not layer.spiking:
        return layer
    neuron = CubaNeuron(iDecay=4096, vDecay=round(layer.neuron.vDecay), vThMant=round(layer.neuron.vThMant * 64))
    bias = None if layer.bias is None else np.round(layer.bias * 64)
    return dataclasses.replace(layer, weight=np.round(layer.weight * 64), bias=bias, neuron=neuron)


def test_fixed_direct_input_equals_float_where_fixed_point_is_exact():
    """Graded input in fixed point: x is sent as round(64 x) and the first synapse shifts its sum by -6.

    With x on the 1/64 grid, weights that are multiples of 64 and no voltage leak, nothing is rounded, so the
    fixed-point run must equal the float run exactly.
    """
    rng = np.random.default_rng(9)
    neuron = CubaNeuron(iDecay=4096, vDecay=0, vThMant=64)
    network = NetworkRecord(layers=(
        InputLayer((2, 6, 6)),
        ConvLayer(64 * rng.integers(-2, 3, (4, 2, 3, 3)), neuron, (4, 3, 3), stride=(2, 2), padding=(1, 1),
                  bias=rng.integers(-8, 8, 4)),
        FlattenLayer((36, 1, 1)),
        DenseLayer(rng.integers(-40, 60, (5, 36)), neuron),
    ), input_encoding="direct", precision="fixed")
    inputs = rng.integers(0, 65, (2, 2, 6, 6, 6)) / 64
    fixed = run_lava(network, inputs, precision="fixed", progress=False)
    floating = run_lava(network, inputs, precision="float", progress=False)
    assert int(floating.spikes[1].sum()) > 0
    for index in (1, 3):
        np.testing.assert_array_equal(fixed.spikes[index], floating.spikes[index])
