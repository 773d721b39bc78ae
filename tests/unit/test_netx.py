"""netx records, reader and writer: round trips for every registered layer type and every file error."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurovae.errors import NeurovaeError
from neurovae.netx import (
    LAYER_TYPES,
    ConvLayer,
    ConvTLayer,
    CubaNeuron,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    InputNeuronLayer,
    NetworkRecord,
    NetxError,
    describe,
    read_netx,
    write_netx,
)

RNG = np.random.default_rng(7)
NEURON = CubaNeuron(iDecay=4096, vDecay=819.2, vThMant=80)


def _dense_net() -> NetworkRecord:
    return NetworkRecord(
        layers=(InputLayer((12,)), DenseLayer(RNG.normal(size=(5, 12)), NEURON, bias=RNG.normal(size=5))),
        steps=4, model_config='{"name": "sae"}',
    )


def _conv_net() -> NetworkRecord:
    return NetworkRecord(layers=(
        InputLayer((2, 7, 7)),
        ConvLayer(RNG.normal(size=(4, 1, 3, 3)), NEURON, (4, 4, 4), stride=(2, 2), padding=(1, 1), groups=2,
                  bias=RNG.normal(size=4)),
    ), input_encoding="direct")


def _convt_net() -> NetworkRecord:
    return NetworkRecord(layers=(
        InputLayer((3,)),
        DenseLayer(RNG.normal(size=(18, 3)), NEURON, shape=(2, 3, 3)),
        ConvTLayer(RNG.normal(size=(2, 3, 3, 3)), CubaNeuron(vThMant=(1 << 18) - 1), (3, 6, 6), stride=(2, 2),
                   padding=(1, 1), bias=RNG.normal(size=3)),
    ), readout="voltage", steps=16)


def _flatten_net() -> NetworkRecord:
    return NetworkRecord(layers=(
        InputLayer((2, 3, 3)), FlattenLayer((18, 1, 1)),
        DenseLayer(RNG.integers(-9, 9, size=(4, 18)), CubaNeuron(vDecay=1024, vThMant=64)),
    ), precision="fixed")


EXAMPLES = {"input": _dense_net, "dense": _dense_net, "conv": _conv_net, "convT": _convt_net,
            "flatten": _flatten_net}


def test_every_registered_layer_type_has_an_example():
    assert set(EXAMPLES) == set(LAYER_TYPES)


@pytest.mark.parametrize("layer_type", sorted(LAYER_TYPES))
def test_round_trip(layer_type, tmp_path):
    network = EXAMPLES[layer_type]()
    assert any(layer.type == layer_type for layer in network.layers)
    path = write_netx(network, tmp_path / f"{layer_type}.net")
    back = read_netx(path)
    assert back == network
    assert back.shapes == network.shapes
    assert layer_type in describe(back)


def test_layout_matches_slayer(tmp_path):
    path = write_netx(_convt_net(), tmp_path / "n.net")
    with h5py.File(path) as f:
        assert f["layer/0/type"][0] == b"input" and f["layer/0/type"].dtype == "S10"
        assert set(f["layer/0"].keys()) == {"type", "shape"}
        conv = f["layer/2"]
        assert {"inChannels", "outChannels", "kernelSize", "stride", "padding", "dilation", "groups", "weight",
                "bias", "neuron", "shape", "type"} == set(conv.keys())
        assert conv["weight"].shape == (2, 3, 3, 3) and list(conv["shape"][()]) == [3, 6, 6]
        assert set(conv["neuron"].keys()) == {"type", "iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike"}
        assert f.attrs["readout"] == "voltage" and f.attrs["steps"] == 16


def test_fixed_network_is_written_as_integers(tmp_path):
    path = write_netx(_flatten_net(), tmp_path / "f.net")
    with h5py.File(path) as f:
        assert f["layer/2/weight"].dtype == np.int32
        assert f["layer/2/neuron/vThMant"].dtype.kind == "i"
    assert read_netx(path).precision == "fixed"


def test_describe_says_why_stock_netx_cannot_run_a_layer():
    text = describe(_convt_net())
    assert "layer 2 (convT): netx has no convT layer" in text
    assert "layer 1 (dense): netx reads weights and biases as integers" in text  # float weights would be truncated
    assert "runs every layer as it is" in describe(_flatten_net())  # whole numbers, stock layer types


def test_stock_problems_name_each_reason():
    neuron = CubaNeuron(vDecay=1024, vThMant=64)
    zero = NetworkRecord(layers=(InputLayer((3,)), DenseLayer(np.zeros((2, 3)), neuron)), precision="fixed")
    assert "all zero" in zero.stock_problems[1] and not zero.stock_netx
    after_dense = NetworkRecord(layers=(
        InputLayer((3,)), DenseLayer(np.ones((8, 3)), neuron, shape=(2, 2, 2)),
        ConvLayer(np.ones((2, 2, 1, 1)), neuron, (2, 2, 2)),
    ), precision="fixed")
    assert set(after_dense.stock_problems) == {2} and "flat" in after_dense.stock_problems[2]
    fractional = NetworkRecord(layers=(InputLayer((3,)), DenseLayer(np.ones((2, 3)), CubaNeuron(vThMant=1.5))))
    assert "whole-number" in fractional.stock_problems[1]


def _input_block_net(**kwargs) -> NetworkRecord:
    return NetworkRecord(layers=(
        InputNeuronLayer((2, 4, 4), NEURON, weight=128.0, bias=32.0),
        ConvLayer(RNG.normal(size=(3, 2, 3, 3)), NEURON, (3, 2, 2), stride=(2, 2), padding=(1, 1)),
        FlattenLayer((12, 1, 1)),
        DenseLayer(RNG.normal(size=(5, 12)), NEURON, shape=(5, 1, 1)),
        DenseLayer(RNG.normal(size=(2, 5)), NEURON),
    ), input_encoding="bias", **kwargs)


def test_input_block_with_neurons_round_trips_and_is_bias_driven(tmp_path):
    network = _input_block_net()
    assert network.spiking_layers == (0, 1, 3, 4) and network.input_shape == (2, 4, 4)
    assert network.input_shapes[4] == (5,)  # a dense layer feeds a dense one as a vector, whatever its shape
    back = read_netx(write_netx(network, tmp_path / "input_block.net"))
    assert back == network and isinstance(back.layers[0], InputNeuronLayer)
    x = np.array([[-1.0, 0.3], [0.5, 1.0]])
    np.testing.assert_array_equal(back.layers[0].input_bias(x, "fixed"), np.trunc(128 * x + 32))
    np.testing.assert_allclose(back.layers[0].input_bias(x, "float"), 128 * x + 32)


def test_input_encoding_must_match_the_input_layer():
    with pytest.raises(NetxError, match="input_encoding 'bias'"):
        _input_block_net().__class__(layers=_input_block_net().layers, input_encoding="spikes")
    with pytest.raises(NetxError, match="input_encoding 'bias'"):
        NetworkRecord(layers=_dense_net().layers, input_encoding="bias")


def test_foreign_input_block_reads_with_netx_defaults_and_tsample(tmp_path):
    """A file as SLAYER writes it: no root attributes, the transform absent (netx's weight 64, bias 0), and
    ``simulation/tSample`` giving the steps."""
    path = tmp_path / "slayer_like.net"
    with h5py.File(path, "w") as f:
        f["simulation/Ts"] = 1
        f["simulation/tSample"] = 12
        layer = f.create_group("layer/0")
        layer.create_dataset("type", (1,), "S10", [b"input"])
        layer["shape"] = np.array([3])
        for key, value in NEURON.datasets().items():
            if key != "neuron/type":
                layer[key] = value
        layer.create_dataset("neuron/type", (1,), "S10", [b"CUBA"])
        dense = f.create_group("layer/1")
        dense.create_dataset("type", (1,), "S10", [b"dense"])
        dense["shape"] = np.array([2, 1, 1])
        dense["weight"] = np.ones((2, 3), dtype=np.int32)
        for key, value in NEURON.datasets().items():
            if key != "neuron/type":
                dense[key] = value
        dense.create_dataset("neuron/type", (1,), "S10", [b"CUBA"])
    network = read_netx(path)
    assert network.input_encoding == "bias" and network.steps == 12 and network.neurovae_version == ""
    assert (network.layers[0].weight, network.layers[0].bias) == (64.0, 0.0)
    with h5py.File(path, "r+") as f:
        f["simulation/tSample"][()] = 0
    with pytest.raises(NetxError, match="tSample"):
        read_netx(path)


def test_dense_first_network_places_and_counts_from_its_input_width():
    from neurovae.energy import OperationCounter
    from neurovae.simulate.emulator import run_emulator
    from neurovae.targets import load_target, place

    network = NetworkRecord(layers=(
        DenseLayer(RNG.integers(-40, 60, (6, 10)), CubaNeuron(vDecay=512, vThMant=64), shape=(6, 1, 1)),
        DenseLayer(RNG.integers(-40, 60, (3, 6)), CubaNeuron(vDecay=512, vThMant=64)),
    ), precision="fixed")
    assert network.input_shapes == ((10,), (6,))
    assert [p.synapses for p in place(network, load_target("loihi2_sim_fixed"))] == [60, 18]
    inputs = (RNG.random((4, 10, 8)) < 0.5).astype(float)
    counter = OperationCounter(network)
    counter.update(inputs, run_emulator(network, inputs, precision="fixed", record_voltage=True, progress=False))
    first = counter.compute()[0]
    assert first.input_events == int(inputs[..., :-1].sum()) and first.connections == 60


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, NeurovaeError)
    return message


def _edit(tmp_path, edit):
    path = write_netx(_flatten_net(), tmp_path / "edited.net")
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _replace(group, key, value):
    del group[key]
    group.create_dataset(key, data=value)


BAD_FILES = {
    "no such file": lambda tmp: tmp / "missing.net",
    "not an HDF5 file": lambda tmp: (tmp / "text.net").write_text("hello") and tmp / "text.net",
    "no 'layer' group": lambda tmp: h5py.File(tmp / "empty.h5", "w").close() or tmp / "empty.h5",
    "type 'pool'": lambda tmp: _edit(tmp, lambda f: _replace(f["layer/2"], "type", np.array([b"pool"], "S10"))),
    "shape mismatch at layer 2": lambda tmp: _edit(
        tmp, lambda f: _replace(f["layer/2"], "weight", np.ones((4, 17), np.int32))),
    "layer 2 (dense) weight contains NaN": lambda tmp: _edit(
        tmp, lambda f: _replace(f["layer/2"], "weight", np.full((4, 18), np.nan))),
    "vDecay=5000": lambda tmp: _edit(tmp, lambda f: _replace(f["layer/2/neuron"], "vDecay", 5000)),
    "vThMant=-3": lambda tmp: _edit(tmp, lambda f: _replace(f["layer/2/neuron"], "vThMant", -3)),
    "neuron type 'SDNN'": lambda tmp: _edit(tmp, lambda f: _replace(f["layer/2/neuron"], "type", "SDNN")),
    "layer 0 (input) neuron group lacks iDecay": lambda tmp: _edit(
        tmp, lambda f: f["layer/0"].create_dataset("neuron/type", data="CUBA")),
    "input transform ('weight'/'bias') but no neuron group": lambda tmp: _edit(
        tmp, lambda f: f["layer/0"].create_dataset("weight", data=[64])),
}


@pytest.mark.parametrize("expected", sorted(BAD_FILES))
def test_bad_files_raise_one_line(expected, tmp_path):
    path = BAD_FILES[expected](tmp_path)
    with pytest.raises(NetxError) as error:
        read_netx(path)
    assert expected in _one_line(error)


def test_unsupported_type_names_the_supported_ones(tmp_path):
    with pytest.raises(NetxError) as error:
        read_netx(BAD_FILES["type 'pool'"](tmp_path))
    assert "supported types: conv, convT, dense, flatten, input" in _one_line(error)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: CubaNeuron(vThMant=0), "vThMant=0 must be positive"),
        (lambda: CubaNeuron(iDecay=float("nan")), "iDecay is nan"),
        (lambda: DenseLayer(np.ones((2, 3)), NEURON, bias=np.ones(3)), "bias has 3 values"),
        (lambda: ConvLayer(np.ones((2, 1, 3, 3)), NEURON, (3, 4, 4)), "weight makes 2 channels"),
        (lambda: NetworkRecord(layers=(InputLayer((2, 4, 4)), DenseLayer(np.ones((2, 32)), NEURON))),
         "put a flatten layer before it"),
        (lambda: NetworkRecord(layers=(InputLayer((3,)), DenseLayer(np.full((2, 3), 0.5), NEURON)),
                               precision="fixed"), "non-integer weight"),
        (lambda: NetworkRecord(layers=(InputLayer((3,)),), readout="voltage"), "needs a spiking last layer"),
        (lambda: NetworkRecord(layers=(InputLayer((3,)),), input_encoding="rate"), "input_encoding='rate'"),
        (lambda: NetworkRecord(layers=(InputLayer((3,)),), model_config="{oops"), "not a JSON string"),
        (lambda: NetworkRecord(layers=(InputLayer((3,)),), steps=0), "steps=0"),
    ],
)
def test_records_validate_themselves(build, expected):
    with pytest.raises(NetxError) as error:
        build()
    assert expected in _one_line(error)


def test_convt_output_padding_follows_from_shapes():
    layer = _convt_net().layers[2]
    assert layer.output_padding((2, 3, 3)) == (1, 1)
    with pytest.raises(NetxError):
        layer.output_padding((2, 4, 4))


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    network = _dense_net()
    target = tmp_path / "out.net"

    def boom(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(DenseLayer, "datasets", boom)
    with pytest.raises(RuntimeError):
        write_netx(network, target)
    assert list(tmp_path.iterdir()) == []
