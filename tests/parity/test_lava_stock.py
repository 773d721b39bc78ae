"""neurovae's fixed-point Lava runs equal lava-dl's stock netx spike for spike, on files written by lava-dl's
SLAYER blocks and on files written by ``write_netx``.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava.lib.dl.netx", reason="lava-dl is not installed")
torch = pytest.importorskip("torch")

import lava.lib.dl.slayer as slayer  # noqa: E402
from lava.lib.dl.netx.hdf5 import Network  # noqa: E402
from lava.lib.dl.netx.utils import optimize_weight_bits as netx_optimize_weight_bits  # noqa: E402
from slayer_files import export_slayer  # noqa: E402

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
from neurovae.simulate import run_lava, run_netx_stock  # noqa: E402
from neurovae.simulate.fixed import optimize_weight_bits  # noqa: E402

PARAMS = {"threshold": 1.0, "current_decay": 1.0, "voltage_decay": 0.1, "requires_grad": False}


def _assert_same(ours, stock):
    assert set(ours.spikes) == set(stock.spikes)
    for index, spikes in stock.spikes.items():
        assert int((ours.spikes[index] != spikes).sum()) == 0, f"layer {index}"
    assert all(int(s.sum()) > 0 for s in stock.spikes.values())  # not vacuous
    np.testing.assert_array_equal(ours.readout_voltage, stock.readout_voltage)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_slayer_export_runs_like_stock_netx(kind, tmp_path):
    torch.manual_seed(3)
    if kind == "dense":
        blocks = [slayer.block.cuba.Dense(PARAMS, 20, 12, weight_scale=3, weight_norm=False),
                  slayer.block.cuba.Dense(PARAMS, 12, 5, weight_scale=3, weight_norm=False)]
        input_shape = (20,)
    else:
        blocks = [slayer.block.cuba.Conv(PARAMS, 2, 4, 3, stride=2, padding=1, weight_scale=3, weight_norm=False),
                  slayer.block.cuba.Flatten(),
                  slayer.block.cuba.Dense(PARAMS, 64, 5, weight_scale=3, weight_norm=False)]
        input_shape = (2, 8, 8)
    path = export_slayer(tmp_path / f"slayer_{kind}.net", blocks, input_shape)
    network = read_netx(path)
    assert network.precision == "fixed" and network.neurovae_version == ""
    inputs = (np.random.default_rng(0).uniform(size=(2, *input_shape, 8)) < 0.4).astype(float)
    _assert_same(run_lava(network, inputs, precision="fixed", progress=False),
                 run_netx_stock(path, inputs, progress=False))


def test_write_netx_file_loads_in_stock_netx_and_runs_identically(tmp_path):
    rng = np.random.default_rng(4)
    neuron = CubaNeuron(iDecay=4096, vDecay=512, vThMant=90)
    network = NetworkRecord(layers=(
        InputLayer((2, 7, 7)),
        ConvLayer(rng.integers(-40, 70, (4, 1, 3, 3)), neuron, (4, 4, 4), stride=(2, 2), padding=(1, 1), groups=2,
                  bias=rng.integers(-8, 16, 4)),
        FlattenLayer((64, 1, 1)),
        DenseLayer(rng.integers(-50, 60, (10, 64)), neuron, bias=rng.integers(-4, 8, 10)),
        DenseLayer(rng.integers(-50, 80, (4, 10)), CubaNeuron(vDecay=1024, vThMant=(1 << 18) - 1)),
    ), steps=8, precision="fixed", readout="voltage")
    path = write_netx(network, tmp_path / "ours.net")
    stock = Network(net_config=str(path))  # loads unchanged
    assert len(stock.layers) == 3
    inputs = (rng.uniform(size=(2, 2, 7, 7, 8)) < 0.4).astype(float)
    ours = run_lava(path, inputs, precision="fixed", progress=False)
    reference = run_netx_stock(path, inputs, progress=False)
    for index in (1, 3):
        assert int((ours.spikes[index] != reference.spikes[index]).sum()) == 0
    assert int(reference.spikes[1].sum()) > 0
    np.testing.assert_array_equal(ours.readout_voltage, reference.readout_voltage)
    assert np.any(ours.readout_voltage != 0)


def test_slayer_convt_export_reads_as_convt(tmp_path):
    torch.manual_seed(0)
    block = slayer.block.cuba.ConvT(PARAMS, 3, 2, 3, stride=2, padding=1, weight_scale=3, weight_norm=False)
    path = export_slayer(tmp_path / "convt.net", [block], (3, 4, 4))
    layer = read_netx(path).layers[1]
    assert isinstance(layer, ConvTLayer) and layer.shape == (2, 7, 7) and layer.stride == (2, 2)
    expected = block.synapse.pre_hook_fx(block.synapse.weight, descale=True)[..., 0].detach().numpy()
    np.testing.assert_array_equal(layer.weight, expected)


def test_weight_packing_matches_netx():
    rng = np.random.default_rng(2)
    for _ in range(500):
        low, high = sorted(rng.integers(-300, 300, 2))
        weight = rng.integers(low, high + 1, (3, 4)) * 2 ** int(rng.integers(0, 4))
        if not weight.any():
            continue
        ours, theirs = optimize_weight_bits(weight), netx_optimize_weight_bits(weight)
        np.testing.assert_array_equal(ours[0], theirs[0])
        assert ours[1:] == (theirs[1], theirs[2], int(theirs[3]))
