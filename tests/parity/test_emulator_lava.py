"""The batched emulator equals Lava: fixed point bit for bit, floating point spike for spike.

Every spiking layer's spikes at every step, every layer's voltage at every step and the readout voltage are
compared between ``run_emulator`` and ``run_lava`` on the same network and inputs: an exported ESVAE encoder
and decoder (float as exported; fixed point with its parameters rounded to whole numbers), a hand-built
network chosen to hit Lava's integer corner cases (overflow wraps, clipping, int16 biases, weight packing of
mixed, excitatory and inhibitory dense layers, direct input with half-way rounding), a network whose graded
first dense layer overflows Lava's int32 dot product, and a file written by lava-dl's SLAYER blocks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")

from slayer_files import export_slayer  # noqa: E402
from test_esvae_lava import CONFIG, trained_like_model  # noqa: E402

from neurovae.export import export_model  # noqa: E402
from neurovae.netx import (  # noqa: E402
    ConvLayer,
    ConvTLayer,
    CubaNeuron,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    NetworkRecord,
    read_netx,
    write_netx,
)
from neurovae.simulate import run_lava  # noqa: E402
from neurovae.simulate.emulator import compile_network, run_emulator  # noqa: E402


def whole_numbers(network: NetworkRecord) -> NetworkRecord:
    """``network`` with every parameter rounded to a whole number (thresholds at least 1), precision fixed."""
    layers = []
    for layer in network.layers:
        if layer.spiking:
            neuron = layer.neuron
            neuron = CubaNeuron(iDecay=round(neuron.iDecay), vDecay=round(neuron.vDecay),
                                vThMant=max(1, round(neuron.vThMant)))
            bias = None if layer.bias is None else np.round(layer.bias)
            layer = dataclasses.replace(layer, weight=np.round(layer.weight), neuron=neuron, bias=bias)
        layers.append(layer)
    return dataclasses.replace(network, layers=tuple(layers), precision="fixed")


def assert_equal_runs(network: NetworkRecord, inputs: np.ndarray, precision: str, steps: int | None = None,
                      batch_size: int = 2) -> int:
    """Run both backends with voltages; assert equality; return the number of spikes compared."""
    lava = run_lava(network, inputs, precision=precision, record_voltage=True, progress=False, steps=steps)
    emulated = run_emulator(network, inputs, precision, record_voltage=True, batch_size=batch_size,
                            progress=False, steps=steps)
    assert emulated.backend == "emulator" and emulated.precision == precision
    assert set(emulated.spikes) == set(lava.spikes) == set(network.spiking_layers)
    for index in lava.spikes:
        where = f"layer {index} ({network.layers[index].type}, {precision})"
        assert emulated.spikes[index].shape == lava.spikes[index].shape, where
        mismatches = int((emulated.spikes[index] != lava.spikes[index]).sum())
        assert mismatches == 0, f"{where}: {mismatches} spike mismatches"
        if precision == "fixed":
            np.testing.assert_array_equal(emulated.voltages[index], lava.voltages[index], err_msg=where)
        else:
            np.testing.assert_allclose(emulated.voltages[index], lava.voltages[index], rtol=1e-12, atol=1e-9,
                                       err_msg=where)
    if precision == "fixed":
        np.testing.assert_array_equal(emulated.readout_voltage, lava.readout_voltage)
    else:
        np.testing.assert_allclose(emulated.readout_voltage, lava.readout_voltage, rtol=1e-12, atol=1e-9)
    return sum(int(s.sum()) for s in lava.spikes.values())


@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_esvae_encoder_and_decoder(precision, tmp_path):
    model = trained_like_model(0)
    rng = np.random.default_rng(0)
    compared = 0
    for part in ("encoder", "decoder"):
        network = export_model(model, part)
        if precision == "fixed":
            network = whole_numbers(network)
        network = read_netx(write_netx(network, tmp_path / f"{part}.net"))  # what a user runs: the file
        if part == "encoder":  # direct input: images repeated every step
            compared += assert_equal_runs(network, rng.uniform(-1, 1, (3, 1, 8, 8)), precision, steps=CONFIG.steps)
        else:  # Poisson latent spikes
            spikes = (rng.uniform(size=(3, CONFIG.latent_dim, CONFIG.steps)) < 0.4).astype(float)
            compared += assert_equal_runs(network, spikes, precision)
    assert compared > 500, "the test networks should spike"


def corner_case_network(rng: np.random.Generator) -> NetworkRecord:
    """Direct input into a grouped, strided conv with an undecaying current (24-bit wrap), an int16-wrapping
    bias and a clipped voltage; mixed / excitatory / inhibitory dense layers (weight packing); a dense layer
    viewed as CHW feeding a transposed convolution."""
    return NetworkRecord(layers=(
        InputLayer((2, 7, 7)),
        ConvLayer(rng.integers(-500, 1500, (6, 1, 3, 3)), CubaNeuron(iDecay=0, vDecay=100, vThMant=60000), (6, 4, 4),
                  stride=(2, 2), padding=(1, 1), groups=2, bias=rng.integers(-40000, 40000, 6)),
        FlattenLayer((96, 1, 1)),
        DenseLayer(rng.integers(-301, 301, (12, 96)) | 1, CubaNeuron(iDecay=1, vDecay=4000, vThMant=200),
                   bias=rng.integers(-500, 500, 12)),
        DenseLayer(rng.integers(0, 90, (8, 12)), CubaNeuron(iDecay=2000, vDecay=0, vThMant=300)),
        DenseLayer(-rng.integers(0, 90, (12, 8)), CubaNeuron(iDecay=4096, vDecay=0, vThMant=5), shape=(3, 2, 2),
                   bias=rng.integers(0, 300, 12)),
        ConvTLayer(rng.integers(-200, 200, (3, 2, 3, 3)), CubaNeuron(iDecay=0, vDecay=0, vThMant=131071), (2, 5, 5),
                   stride=(2, 2)),
    ), steps=20, precision="fixed", input_encoding="direct", readout="voltage")


def corner_case_inputs(rng: np.random.Generator, count: int = 2) -> np.ndarray:
    inputs = rng.uniform(-2, 6, (count, 2, 7, 7, 20))
    inputs[..., :5] = np.round(inputs[..., :5] * 128) / 128  # x * 64 half-way between integers: round half to even
    return inputs


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_integer_corner_cases(precision):
    rng = np.random.default_rng(1)
    network = corner_case_network(rng)
    inputs = corner_case_inputs(rng)
    if precision == "fixed":  # the network does reach the wraps, the clip and the int16 bias
        layers = compile_network(network, "fixed", input_bound=6 * 64).stages
        assert all(layers[i].neuron.wrap24 for i in (1, 3))
        assert np.abs(network.layers[1].bias).max() > 2**15
    assert_equal_runs(network, inputs, precision)


def test_graded_dense_overflowing_int32():
    rng = np.random.default_rng(2)
    network = NetworkRecord(layers=(
        InputLayer((20,)),
        DenseLayer(rng.integers(-3, 4, (6, 20)), CubaNeuron(iDecay=4096, vDecay=0, vThMant=1000)),
        DenseLayer(rng.integers(-100, 100, (4, 6)), CubaNeuron(iDecay=0, vDecay=0, vThMant=100000)),
    ), steps=12, precision="fixed", input_encoding="direct", readout="voltage")
    inputs = rng.uniform(-3e5, 3e5, (2, 20, 12))  # 64 x * 192 * 20 inputs: beyond 2**31
    plan = compile_network(network, "fixed", input_bound=3e5 * 64)
    assert plan.stages[1].synapse.bound == 2.0**31 * 2.0**-12  # wrapped to int32, then shifted
    assert_equal_runs(network, inputs, "fixed")


PARAMS = {"threshold": 1.0, "current_decay": 1.0, "voltage_decay": 0.1, "requires_grad": False}


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_slayer_exported_file(precision, tmp_path):
    slayer = pytest.importorskip("lava.lib.dl.slayer", reason="lava-dl is not installed")
    torch.manual_seed(3)
    blocks = [slayer.block.cuba.Conv(PARAMS, 2, 4, 3, stride=2, padding=1, weight_scale=3, weight_norm=False),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(PARAMS, 64, 5, weight_scale=3, weight_norm=False)]
    path = export_slayer(tmp_path / "slayer.net", blocks, (2, 8, 8))
    network = read_netx(path)
    assert network.neurovae_version == "" and network.precision == "fixed"
    inputs = (np.random.default_rng(0).uniform(size=(3, 2, 8, 8, 10)) < 0.4).astype(float)
    assert assert_equal_runs(network, inputs, precision) > 0
