"""lava-dl's own networks (written by SLAYER blocks) run in neurovae as lava-dl's netx runs them.

An Input block with neurons is driven by each sample's input as its bias, with the file's transform applied; a
network may start with a dense layer; a netx reset schedule (``reset_interval``, ``reset_offset``) resets each
layer at its own step. The emulator, neurovae's Lava graph and stock ``netx.hdf5.Network`` agree on every
layer's spikes and voltages at every step.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava.lib.dl.netx", reason="lava-dl is not installed")
torch = pytest.importorskip("torch")

import lava.lib.dl.slayer as slayer  # noqa: E402
from lava.lib.dl.netx.hdf5 import Network  # noqa: E402
from lava.lib.dl.netx.utils import NetDict  # noqa: E402
from slayer_files import export_slayer_network  # noqa: E402

from neurovae.cli.main import main  # noqa: E402
from neurovae.export import export_model, quantize_network  # noqa: E402
from neurovae.netx import InputNeuronLayer, read_netx, write_netx  # noqa: E402
from neurovae.registry import MODELS  # noqa: E402
from neurovae.simulate import run_lava, run_netx_stock  # noqa: E402
from neurovae.simulate.emulator import run_emulator  # noqa: E402
from neurovae.simulate.schedule import ResetSchedule  # noqa: E402

PARAMS = {"threshold": 1.0, "current_decay": 1.0, "voltage_decay": 0.1, "requires_grad": False}
T_SAMPLE = 12


@pytest.fixture(scope="module")
def input_block_file(tmp_path_factory):
    """Input block (neurons, transform 2x + 0.5) -> conv -> conv -> flatten -> dense, written by SLAYER."""
    torch.manual_seed(0)
    blocks = [slayer.block.cuba.Input(PARAMS, weight=2.0, bias=0.5),
              slayer.block.cuba.Conv(PARAMS, 2, 4, 3, stride=2, padding=1, weight_scale=3, weight_norm=False),
              slayer.block.cuba.Conv(PARAMS, 4, 4, 3, stride=1, padding=1, weight_scale=3, weight_norm=False),
              slayer.block.cuba.Flatten(),
              slayer.block.cuba.Dense(PARAMS, 64, 5, weight_scale=3, weight_norm=False)]
    path = tmp_path_factory.mktemp("lava_dl") / "input_block.net"
    return export_slayer_network(path, blocks, torch.rand(1, 2, 8, 8, 4), t_sample=T_SAMPLE)


@pytest.fixture(scope="module")
def dense_first_file(tmp_path_factory):
    """dense (written with shape (20, 1, 1)) -> dense: no input layer, as lava-dl's MNIST example network."""
    torch.manual_seed(1)
    blocks = [slayer.block.cuba.Dense(PARAMS, 30, 20, weight_scale=3, weight_norm=False),
              slayer.block.cuba.Dense(PARAMS, 20, 6, weight_scale=3, weight_norm=False)]
    path = tmp_path_factory.mktemp("lava_dl") / "dense_first.net"
    return export_slayer_network(path, blocks, (torch.rand(1, 30, 1, 1, 4) < 0.4).float())


def _assert_identical(ours, stock):
    assert set(ours.spikes) == set(stock.spikes) == set(ours.voltages) == set(stock.voltages)
    for index in stock.spikes:
        assert int((ours.spikes[index] != stock.spikes[index]).sum()) == 0, f"spikes of layer {index}"
        np.testing.assert_array_equal(ours.voltages[index], stock.voltages[index], err_msg=f"layer {index}")
        assert stock.spikes[index].any(), f"layer {index} never fired: the comparison would be vacuous"
    np.testing.assert_array_equal(ours.readout_voltage, stock.readout_voltage)


def test_input_block_file_reads_as_a_bias_driven_network(input_block_file):
    network = read_netx(input_block_file)
    first = network.layers[0]
    assert isinstance(first, InputNeuronLayer) and network.input_encoding == "bias"
    assert (first.weight, first.bias) == (128.0, 32.0)  # SLAYER writes the transform in device units (x 64)
    assert network.steps == T_SAMPLE and network.stock_netx and network.spiking_layers == (0, 1, 2, 4)


@pytest.mark.parametrize("schedule", [None, ResetSchedule(T_SAMPLE, 0), ResetSchedule(10, 3)],
                         ids=["fresh-samples", "interval-12", "interval-10-offset-3"])
def test_bias_driven_conv_network_equals_stock_netx_at_every_layer_and_step(input_block_file, schedule):
    inputs = np.random.default_rng(0).uniform(-1, 1, size=(3, 2, 8, 8))
    kwargs = dict(steps=T_SAMPLE, progress=False, record_voltage=True, schedule=schedule)
    stock = run_netx_stock(input_block_file, inputs, **kwargs)
    _assert_identical(run_emulator(input_block_file, inputs, precision="fixed", **kwargs), stock)
    _assert_identical(run_lava(input_block_file, inputs, precision="fixed", **kwargs), stock)


def test_a_schedule_changes_what_a_layer_sees(input_block_file):
    """Not vacuous: the staggered resets of a schedule give other spikes than fresh samples."""
    inputs = np.random.default_rng(0).uniform(-1, 1, size=(3, 2, 8, 8))
    fresh = run_emulator(input_block_file, inputs, precision="fixed", steps=T_SAMPLE, progress=False)
    staggered = run_emulator(input_block_file, inputs, precision="fixed", steps=T_SAMPLE, progress=False,
                             schedule=ResetSchedule(10, 3))
    assert (fresh.spikes[2] != staggered.spikes[2]).any()


def test_dense_first_file_through_inspect_run_and_energy(dense_first_file, tmp_path, capsys):
    inputs = (np.random.default_rng(2).random((3, 30, 10)) < 0.4).astype(float)
    np.save(tmp_path / "spikes.npy", inputs)
    assert main(["inspect", str(dense_first_file)]) == 0
    assert "0  dense         20          600      1" in capsys.readouterr().out
    outputs = {}
    for backend in ("emulator", "lava", "netx"):
        out = tmp_path / f"{backend}.npz"
        assert main(["run", str(dense_first_file), "--input", str(tmp_path / "spikes.npy"), "--backend", backend,
                     "--precision", "fixed", "--reset-interval", "10", "--reset-offset", "1", "--voltages",
                     "-o", str(out), "--no-progress"]) == 0
        outputs[backend] = np.load(out)
    layers = sorted(key for key in outputs["netx"].files if key.startswith("layer"))
    assert layers == ["layer0_spikes", "layer0_voltage", "layer1_spikes", "layer1_voltage"]
    for key in layers:
        np.testing.assert_array_equal(outputs["emulator"][key], outputs["netx"][key], err_msg=key)
        np.testing.assert_array_equal(outputs["lava"][key], outputs["netx"][key], err_msg=key)
    energy = ["energy", str(dense_first_file), "--input", str(tmp_path / "spikes.npy"), "--precision", "fixed",
              "--steps", "10", "--reset-interval", "5", "-o", str(tmp_path / "energy.json"), "--no-progress"]
    assert main(energy) == 0
    assert "0 dense        20" in capsys.readouterr().out
    before = (tmp_path / "energy.json").read_bytes()
    assert main(energy) == 2 and "energy.json exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "energy.json").read_bytes() == before
    assert main([*energy, "--force"]) == 0
    again = ["run", str(dense_first_file), "--input", str(tmp_path / "spikes.npy"), "-o", str(tmp_path / "lava.npz")]
    assert main(again) == 2 and "lava.npz exists; pass --force" in capsys.readouterr().err


def _stock_loads_unchanged(path) -> bool:
    """Whether stock netx builds the network, and reads every weight and bias as it is in the file (netx reads
    them through ``astype(int)``)."""
    try:
        Network(net_config=str(path))
    except Exception:  # noqa: BLE001 - any failure of stock netx's loader means it cannot load the file
        return False
    layers = NetDict(str(path))["layer"]
    raw = read_netx(path)
    for index, layer in enumerate(raw.layers):
        for name, values in layer.arrays().items():
            if name in layers[index].keys() and not np.array_equal(layers[index][name].reshape(values.shape),
                                                                 values):
                return False
    return True


@pytest.mark.parametrize("name", MODELS.names())
def test_stock_netx_claim_is_true_exactly_when_stock_netx_loads_the_export(name, tiny_model_config, tmp_path):
    torch.manual_seed(0)
    model = MODELS.create(name, tiny_model_config(name)).eval()
    if not hasattr(model, "deployable_parts"):
        pytest.skip(f"{name} has no spiking parts to export")
    for part in model.deployable_parts():
        for precision in ("float", "fixed"):
            network = export_model(model, part)
            if precision == "fixed":
                network = quantize_network(network)
            path = write_netx(network, tmp_path / f"{part}-{precision}.net")
            assert read_netx(path).stock_netx == _stock_loads_unchanged(path), f"{part} {precision}"
