"""The batched emulator without Lava: integer helpers, exact float shortcuts, batching, API and errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from neurovae.netx import (
    LAYER_TYPES,
    ConvLayer,
    ConvTLayer,
    CubaNeuron,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    NetworkRecord,
    write_netx,
)
from neurovae.simulate import SimulationError
from neurovae.simulate.emulator import (
    SYNAPSES,
    FixedLIFParams,
    LIFState,
    compile_network,
    fixed_step,
    run_batch,
    run_emulator,
)
from neurovae.simulate.emulator import fixedpoint as fx


def small_network(precision: str = "fixed", seed: int = 0) -> NetworkRecord:
    """conv -> flatten -> dense viewed as CHW -> convT, whole-number parameters, spike input."""
    rng = np.random.default_rng(seed)
    return NetworkRecord(layers=(
        InputLayer((2, 6, 6)),
        ConvLayer(rng.integers(-30, 60, (4, 2, 3, 3)), CubaNeuron(iDecay=4096, vDecay=3072, vThMant=40), (4, 3, 3),
                  stride=(2, 2), padding=(1, 1), bias=rng.integers(-5, 10, 4)),
        FlattenLayer((36, 1, 1)),
        DenseLayer(rng.integers(-40, 60, (12, 36)), CubaNeuron(iDecay=2048, vDecay=3000, vThMant=50),
                   shape=(3, 2, 2), bias=rng.integers(-5, 10, 12)),
        ConvTLayer(rng.integers(-40, 60, (3, 2, 3, 3)), CubaNeuron(iDecay=4096, vDecay=819, vThMant=131071),
                   (2, 4, 4), stride=(2, 2), padding=(1, 1)),
    ), steps=8, precision=precision, readout="voltage")


def spikes_in(count: int, shape=(2, 6, 6), steps: int = 8, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(size=(count, *shape, steps)) < 0.4).astype(float)


# ------------------------------------------------------------------------------------------ integer helpers


def test_wrap_and_shift_equal_numpy_integer_semantics():
    values = np.random.default_rng(0).integers(-(2**40), 2**40, 10_000)
    tensor = torch.from_numpy(values)
    np.testing.assert_array_equal(fx.wrap(tensor, 32).numpy(), values.astype(np.int32))
    np.testing.assert_array_equal(fx.wrap(tensor, 16).numpy(), values.astype(np.int16))
    for exp in (-7, -1, 0, 3):
        expected = values >> -exp if exp < 0 else values << exp
        np.testing.assert_array_equal(fx.shift(tensor, exp).numpy(), expected)


def test_decay_is_lavas_sign_magnitude_shift():
    values = np.random.default_rng(1).integers(-(2**24), 2**24, 10_000)
    for factor in (0, 1, 1024, 3277, 4095, 4096):
        product = values * factor
        expected = np.sign(product) * np.right_shift(np.abs(product), 12)
        np.testing.assert_array_equal(fx.decay(torch.from_numpy(values), factor).numpy(), expected)


def test_wrap_once_is_a_single_wrap_not_a_modulo():
    x = torch.tensor([2**23, 2**23 + 1, -(2**23), -(2**23) - 1, 2**25, 5])
    assert fx.wrap_once(x).tolist() == [2**23, -(2**23) + 1, 2**23, 2**23 - 1, 2**25 - 2**24, 5]


# ------------------------------------------------------------------------------------ exact float shortcuts


@pytest.mark.parametrize("decays", [(4096, 3072), (64, 4096), (2048, 1024), (1000, 819), (4095, 1)])
def test_exact_float_state_equals_integer_state(decays):
    """Without wraps, the float32/float64 state computes the integers the int64 state does."""
    rng = np.random.default_rng(sum(decays))
    neuron = CubaNeuron(iDecay=decays[0], vDecay=decays[1], vThMant=300)
    bias = rng.integers(-200, 200, 64)
    fast = FixedLIFParams.from_neuron(neuron, bias, (64,), input_bound=500)
    assert fast.dtype.is_floating_point and not (fast.wrap32 or fast.wrap24)
    slow = dataclasses.replace(fast, dtype=torch.int64, bias=fast.bias.to(torch.int64), wrap32=True, wrap24=True,
                               clip=True)
    state_fast = state_slow = LIFState.zeros((32, 64), torch.int64)
    state_fast = LIFState(state_fast.u.to(fast.dtype), state_fast.v.to(fast.dtype))
    for _ in range(30):
        a = torch.from_numpy(rng.integers(-500, 501, (32, 64)))
        spikes_fast, state_fast = fixed_step(a.to(fast.dtype), state_fast, fast)
        spikes_slow, state_slow = fixed_step(a, state_slow, slow)
        assert torch.equal(spikes_fast, spikes_slow)
        assert torch.equal(state_fast.v.to(torch.int64), state_slow.v)
        assert torch.equal(state_fast.u.to(torch.int64), state_slow.u)


def test_skipping_impossible_wraps_changes_nothing():
    """The plan applies only the wraps its bounds cannot rule out; applying all of them gives the same run."""
    network = small_network()
    plan = compile_network(network, "fixed")
    forced = [dataclasses.replace(stage, neuron=dataclasses.replace(
        stage.neuron, dtype=torch.int64, wrap32=True, wrap24=True, clip=True,
        bias=None if stage.neuron.bias is None else stage.neuron.bias.to(torch.int64)))
        if stage.neuron is not None else stage for stage in plan.stages]
    frames = torch.from_numpy(spikes_in(5)).permute(4, 0, 1, 2, 3)
    auto = run_batch(plan, frames, record_voltage=True)
    every = run_batch(dataclasses.replace(plan, stages=tuple(forced)), frames, record_voltage=True)
    assert {s.neuron.dtype for s in plan.stages if s.neuron is not None} == {torch.float32, torch.float64}
    for index in auto.spikes:
        assert torch.equal(auto.spikes[index], every.spikes[index])
        assert torch.equal(auto.voltages[index], every.voltages[index])


# ---------------------------------------------------------------------------------------------------- API


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_batches_are_independent_samples(precision):
    network, inputs = small_network(), spikes_in(7)
    whole = run_emulator(network, inputs, precision, batch_size=7, progress=False, record_voltage=True)
    assert whole.backend == "emulator" and whole.samples == 7 and whole.steps == 8
    assert int(whole.spikes[1].sum()) > 0 and int(whole.spikes[3].sum()) > 0
    for batch_size in (1, 3):
        parts = run_emulator(network, inputs, precision, batch_size=batch_size, progress=False, record_voltage=True)
        for index in whole.spikes:
            np.testing.assert_array_equal(parts.spikes[index], whole.spikes[index])
            np.testing.assert_array_equal(parts.voltages[index], whole.voltages[index])
        np.testing.assert_array_equal(parts.readout_voltage, whole.readout_voltage)
    single = run_emulator(network, inputs[4:5], precision, progress=False)
    np.testing.assert_array_equal(single.spikes[3], whole.spikes[3][4:5])


def test_result_shapes_and_conventions(tmp_path):
    network = small_network()
    path = write_netx(network, tmp_path / "small.net")
    result = run_emulator(path, spikes_in(3), "fixed", progress=False, record_voltage=True)
    assert {i: s.shape for i, s in result.spikes.items()} == {1: (3, 4, 3, 3, 8), 3: (3, 3, 2, 2, 8),
                                                              4: (3, 2, 4, 4, 8)}
    assert result.readout_voltage.shape == (3, 2, 4, 4)
    np.testing.assert_array_equal(result.readout_voltage, result.voltages[4][..., -1])
    assert np.all(result.voltages[1] * 64 == np.round(result.voltages[1] * 64))  # Lava's v / 2**6
    assert result.output is result.readout_voltage
    kept = run_emulator(path, spikes_in(3), "fixed", progress=False, record_layers=[4])
    assert set(kept.spikes) == {4}
    np.testing.assert_array_equal(kept.spikes[4], result.spikes[4])


def test_one_step_delay_per_synapse():
    """Without biases, layer l cannot spike before step l - 1 (one step per synapse, nothing at step 0)."""
    network = small_network()
    layers = tuple(dataclasses.replace(layer, bias=None) if layer.spiking else layer for layer in network.layers)
    result = run_emulator(dataclasses.replace(network, layers=layers), np.ones((2, 2, 6, 6, 8)), "fixed",
                          progress=False)
    assert not result.spikes[1][..., 0].any() and result.spikes[1][..., 1].any()
    assert not result.spikes[3][..., :2].any()


def test_static_inputs_with_steps_and_direct_encoding():
    network = dataclasses.replace(small_network(), input_encoding="direct")
    images = np.random.default_rng(3).uniform(-1, 1, (2, 2, 6, 6))
    repeated = np.repeat(images[..., None], 8, axis=-1)
    a = run_emulator(network, images, "fixed", steps=8, progress=False)
    b = run_emulator(network, repeated, "fixed", progress=False)
    np.testing.assert_array_equal(a.readout_voltage, b.readout_voltage)


def test_a_network_may_start_with_a_dense_layer():
    rng = np.random.default_rng(4)
    dense = DenseLayer(rng.integers(-20, 40, (6, 10)), CubaNeuron(vDecay=1024, vThMant=30), bias=np.full(6, 3))
    inputs = spikes_in(3, shape=(10,))
    bare = run_emulator(NetworkRecord(layers=(dense,)), inputs, "fixed", progress=False)
    fed = run_emulator(NetworkRecord(layers=(InputLayer((10,)), dense)), inputs, "fixed", progress=False)
    np.testing.assert_array_equal(bare.spikes[0], fed.spikes[1])
    assert bare.spikes[0].any()


def test_every_spiking_layer_type_has_a_synapse_op():
    spiking = {name for name, cls in LAYER_TYPES.items() if cls.spiking}
    assert spiking <= set(SYNAPSES), f"no emulator synapse for {spiking - set(SYNAPSES)}"


@pytest.mark.parametrize("kwargs, message", [
    ({"precision": "double"}, "precision"),
    ({"batch_size": 0}, "batch_size"),
    ({"record_layers": [0]}, "not spiking layers"),
    ({"record_layers": []}, "not spiking layers"),
    ({"device": "nonsense"}, "device"),
])
def test_errors_are_one_line_simulation_errors(kwargs, message):
    with pytest.raises(SimulationError, match=message):
        run_emulator(small_network(), spikes_in(1), **{"progress": False, **kwargs})


def test_fixed_point_needs_whole_numbers_and_inputs_must_fit():
    network = small_network()
    fractional = dataclasses.replace(network, precision="float", layers=tuple(
        dataclasses.replace(layer, weight=layer.weight + 0.5) if layer.spiking else layer for layer in network.layers))
    with pytest.raises(Exception, match="non-integer"):
        run_emulator(fractional, spikes_in(1), "fixed", progress=False)
    run_emulator(fractional, spikes_in(1), "float", progress=False)
    with pytest.raises(SimulationError, match="inputs have shape"):
        run_emulator(network, spikes_in(1, shape=(3, 6, 6)), "fixed", progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_cuda_equals_cpu(precision):
    network, inputs = small_network(), spikes_in(6)
    cpu = run_emulator(network, inputs, precision, progress=False, record_voltage=True)
    gpu = run_emulator(network, inputs, precision, progress=False, record_voltage=True, device="cuda")
    for index in cpu.spikes:
        np.testing.assert_array_equal(gpu.spikes[index], cpu.spikes[index])
    np.testing.assert_allclose(gpu.readout_voltage, cpu.readout_voltage, rtol=1e-12, atol=1e-9)


def test_emulator_never_imports_lava():
    code = (
        "import sys, numpy as np\n"
        "from neurovae.simulate.emulator import run_emulator\n"
        "from neurovae.netx import CubaNeuron, DenseLayer, InputLayer, NetworkRecord\n"
        "net = NetworkRecord(layers=(InputLayer((3,)), DenseLayer(np.ones((2, 3)), CubaNeuron())))\n"
        "run_emulator(net, np.ones((2, 3, 4)), 'fixed', progress=True)\n"
        "run_emulator(net, np.ones((2, 3, 4)), 'float', progress=False)\n"
        "loaded = sorted(m for m in sys.modules if m == 'lava' or m.startswith('lava.'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_cli_run_with_the_emulator_backend(tmp_path, capsys):
    from neurovae.cli.main import main

    path = write_netx(small_network(), tmp_path / "small.net")
    np.save(tmp_path / "in.npy", spikes_in(5))
    out = tmp_path / "run.npz"
    code = main(["run", str(path), "--input", str(tmp_path / "in.npy"), "--backend", "emulator", "--precision",
                 "fixed", "-n", "5", "-o", str(out), "--no-progress"])
    assert code == 0 and "emulator" in capsys.readouterr().out
    saved = np.load(out)
    expected = run_emulator(path, spikes_in(5), "fixed", progress=False)
    np.testing.assert_array_equal(saved["layer4_spikes"], expected.spikes[4])
    np.testing.assert_array_equal(saved["readout_voltage"], expected.readout_voltage)
