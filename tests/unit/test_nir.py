"""NIR both ways: snnTorch's exporter -> neurovae -> the emulator (equal to Lava floating_pt) spike for spike;
neurovae -> NIR -> neurovae unchanged, and -> snnTorch's importer with the same parameters and spikes; the
discretisation against a step-by-step Euler reference; one-line refusals; the ``export --nir`` / ``--lava x.nir``
command line.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from snntorch_nets import NIR_NETWORKS, SAMPLES, STEPS, check_through_nir, for_backend
from torch import nn

from neurovae.cli.main import main
from neurovae.export import ExportError, export_model
from neurovae.export.chain import lava_timed_forward
from neurovae.export.from_nir import nir_to_netx, read_nir
from neurovae.export.to_nir import netx_to_nir, write_nir
from neurovae.netx import read_netx
from neurovae.registry import MODELS
from neurovae.simulate.emulator import run_emulator

nir = pytest.importorskip("nir", reason="NIR is not installed (pip install neurovae[nir])")
export_nir = pytest.importorskip("snntorch.export_nir", reason="snnTorch's NIR support needs nirtorch")
import_nir = pytest.importorskip("snntorch.import_nir", reason="snnTorch's NIR support needs nirtorch")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", sorted(NIR_NETWORKS))
def test_snntorch_graph_runs_as_snntorch_at_every_layer_and_step(name, tmp_path):
    check_through_nir(name, lambda network, inputs: run_emulator(network, inputs, progress=False), tmp_path)


def tiny_part(name: str, part: str, tiny_model_config, gain: float = 1.0):
    """A tiny untrained model's part; ``gain`` scales its synapses so that every layer fires."""
    torch.manual_seed(0)
    model = MODELS.create(name, tiny_model_config(name)).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.weight.mul_(gain)
    return export_model(model, part)


def test_a_neurovae_model_round_trips_through_nir_unchanged(tiny_model_config, tmp_path):
    network = tiny_part("esvae", "encoder", tiny_model_config)
    write_nir(netx_to_nir(network), tmp_path / "encoder.nir")
    back = nir_to_netx(read_nir(tmp_path / "encoder.nir"))
    assert len(back.layers) == len(network.layers) and all(a == b for a, b in zip(back.layers, network.layers,
                                                                                     strict=True))
    assert (back.input_encoding, back.readout, back.steps) == (network.input_encoding, network.readout, network.steps)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_snntorch_imports_a_neurovae_graph_with_the_same_parameters_and_spikes(tiny_model_config, tmp_path, capsys):
    network = tiny_part("esvae", "encoder", tiny_model_config, gain=4.0)
    write_nir(netx_to_nir(network), tmp_path / "encoder.nir")
    imported = import_nir.import_from_nir(nir.read(tmp_path / "encoder.nir"))
    capsys.readouterr()  # snnTorch prints as it imports
    modules = dict(imported.named_children())
    layers = []
    for index in range(1, len(network.layers)):
        layer, unit = network.layers[index], network.scale(index)
        if not layer.spiking:
            layers.append(modules[f"layer{index}_flatten"])
            continue
        synapse, neuron = modules[f"layer{index}_synapse"], modules[f"layer{index}_neuron"]
        np.testing.assert_array_equal(synapse.weight.detach().numpy(), (layer.weight / unit).astype(np.float32))
        np.testing.assert_array_equal(synapse.bias.detach().numpy(), (layer.bias / unit).astype(np.float32))
        np.testing.assert_allclose(neuron.beta.numpy(), 1 - layer.neuron.vDecay / 4096, rtol=0, atol=1e-12)
        assert float(neuron.threshold) == np.float32(layer.neuron.vThMant / unit)
        layers += [synapse, neuron]
    twin = nn.Sequential(*layers).double()
    images = torch.rand((STEPS, SAMPLES, *network.input_shape), generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)
    result = run_emulator(network, for_backend(images), progress=False)
    with torch.no_grad():  # one sample at a time: snnTorch's importer flattens with Flatten(0, -1), batch included
        for sample in range(SAMPLES):
            spikes = lava_timed_forward(twin, images[:, sample:sample + 1])
            for index, ours in zip(network.spiking_layers, spikes, strict=True):
                np.testing.assert_array_equal(result.spikes[index][sample].reshape(-1, STEPS),
                                              ours.reshape(STEPS, -1).numpy().T.astype(bool))
    assert all(int(result.spikes[index].sum()) > 0 for index in network.spiking_layers)


def euler_reference(nodes: list, inputs: np.ndarray, dt: float) -> list[np.ndarray]:
    """The documented one-step discretisation, written out: spikes ``[T, N, n]`` per neuron node."""
    state = [{"v": 0.0, "i": 0.0} for _ in nodes[1::2]]
    out: list[list[np.ndarray]] = [[] for _ in state]
    for source in inputs:
        for k, (synapse, neuron) in enumerate(zip(nodes[0::2], nodes[1::2], strict=True)):
            st = state[k]
            held, st["held"] = st.get("held", np.zeros_like(source)), source  # a synapse delivers a step later
            a = held @ synapse.weight.T + getattr(synapse, "bias", 0.0)
            if isinstance(neuron, nir.IF):
                st["v"] = st["v"] + neuron.r * a
            elif isinstance(neuron, nir.LIF):
                st["v"] = (1 - dt / neuron.tau) * st["v"] + dt / neuron.tau * (neuron.v_leak + neuron.r * a)
            else:
                st["i"] = (1 - dt / neuron.tau_syn) * st["i"] + dt / neuron.tau_syn * neuron.w_in * a
                drive = neuron.v_leak + neuron.r * st["i"]
                st["v"] = (1 - dt / neuron.tau_mem) * st["v"] + dt / neuron.tau_mem * drive
            spikes = st["v"] > neuron.v_threshold
            st["v"] = np.where(spikes, 0.0, st["v"])
            out[k].append(spikes)
            source = spikes.astype(np.float64)
    return [np.stack(spikes) for spikes in out]


def handmade_graph(dt: float = 1e-4) -> tuple[object, list]:
    """Affine -> LIF (r != tau/dt, v_leak) -> Linear -> CubaLIF (w_in, r, v_leak) -> Affine -> IF."""
    rng = np.random.default_rng(5)

    def full(n, value):
        return np.full(n, value)

    chain = [
        nir.Affine(weight=rng.normal(0, 0.6, (10, 8)), bias=rng.normal(0, 0.1, 10)),
        nir.LIF(tau=full(10, 5 * dt), r=full(10, 3.0), v_leak=full(10, 0.2), v_threshold=full(10, 0.5),
                v_reset=full(10, 0.0)),
        nir.Linear(weight=rng.normal(0, 0.8, (7, 10))),
        nir.CubaLIF(tau_syn=full(7, 2 * dt), tau_mem=full(7, 4 * dt), r=full(7, 2.0), v_leak=full(7, 0.05),
                    v_threshold=full(7, 0.4), v_reset=full(7, 0.0), w_in=full(7, 1.5)),
        nir.Affine(weight=rng.normal(0, 0.9, (5, 7)), bias=rng.normal(0, 0.1, 5)),
        nir.IF(r=full(5, 0.5), v_threshold=full(5, 0.3), v_reset=full(5, 0.0)),
    ]
    nodes = {"in": nir.Input(input_type={"input": np.array([8])}), **{f"n{i}": node for i, node in enumerate(chain)},
             "out": nir.Output(output_type={"output": np.array([5])})}
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:], strict=False))), chain


def test_lif_cubalif_and_if_follow_the_documented_euler_steps():
    graph, chain = handmade_graph()
    network = nir_to_netx(graph)
    x = (np.random.default_rng(6).uniform(size=(STEPS, SAMPLES, 8)) < 0.5).astype(np.float64)
    result = run_emulator(network, np.moveaxis(x, 0, -1), progress=False)
    for index, spikes in zip(network.spiking_layers, euler_reference(chain, x, 1e-4), strict=True):
        np.testing.assert_array_equal(result.spikes[index], np.moveaxis(spikes, 0, -1))
        assert spikes.any()


def _edited(change) -> object:
    graph, _ = handmade_graph()
    change(graph)
    return graph


def _branch(graph) -> None:
    graph.edges.append(("n0", "n3"))


def _pool(graph) -> None:
    graph.nodes["n2"] = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))


def _flatten_after_synapse(graph) -> None:
    graph.nodes["n1"] = nir.Flatten(input_type={"input": np.array([10])}, start_dim=0)


NIR_REFUSALS = {
    "reset to a value": (lambda g: setattr(g.nodes["n1"], "v_reset", np.full(10, 0.5)), "'n1' (LIF): v_reset=0.5"),
    "per-neuron tau": (lambda g: setattr(g.nodes["n1"], "tau", np.linspace(2e-4, 6e-4, 10)),
                       "'n1' (LIF): tau differs between neurons"),
    "tau shorter than dt": (lambda g: setattr(g.nodes["n1"], "tau", np.full(10, 5e-5)), "shorter than the time step"),
    "bias into a decaying current": (lambda g: g.nodes.update(n2=nir.Affine(weight=g.nodes["n2"].weight,
                                                                          bias=np.ones(7))),
                                     "'n2' (Affine): its bias enters the CubaLIF"),
    "zero threshold": (lambda g: setattr(g.nodes["n5"], "v_threshold", np.zeros(5)), "'n5' (IF): v_threshold=0"),
    "branch": (_branch, "branches or merges"),
    "pooling": (_pool, "'n2' (AvgPool2d) cannot be mapped to netx"),
    "synapse without neuron": (_flatten_after_synapse, "'n0' (Affine) is not followed by a LIF"),
}


@pytest.mark.parametrize("name", sorted(NIR_REFUSALS))
def test_nir_that_loihi_cannot_run_is_refused_in_one_line_naming_the_node(name):
    change, fragment = NIR_REFUSALS[name]
    with pytest.raises(ExportError) as error:
        nir_to_netx(_edited(change))
    assert fragment in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("padding", "kernel", "expected"), [("same", 3, (1, 1)), ("valid", 3, (0, 0)),
                                                          ((2, 1), 3, (2, 1)), ("same", 2, None)])
def test_conv2d_padding_strings_map_to_symmetric_padding(padding, kernel, expected):
    conv = nir.Conv2d(input_shape=(6, 6), weight=np.ones((2, 1, kernel, kernel)), stride=1, padding=padding,
                      dilation=1, groups=1, bias=np.zeros(2))
    neuron = nir.LIF(tau=np.full(1, 2e-4), r=np.full(1, 2.0), v_leak=np.zeros(1), v_threshold=np.ones(1))
    nodes = {"in": nir.Input(input_type={"input": np.array([1, 6, 6])}), "conv": conv, "lif": neuron,
             "out": nir.Output(output_type={"output": None})}
    graph = nir.NIRGraph(nodes=nodes, edges=[("in", "conv"), ("conv", "lif"), ("lif", "out")], type_check=False)
    if expected is None:
        with pytest.raises(ExportError, match="'conv' \\(Conv2d\\): padding='same' with an even kernel"):
            nir_to_netx(graph)
        return
    assert nir_to_netx(graph).layers[1].padding == expected


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_recurrent_snntorch_layer_is_refused():
    import snntorch as snn

    net = nn.Sequential(nn.Linear(4, 3), snn.RLeaky(beta=torch.full((3,), 0.5), V=torch.ones(3), all_to_all=False,
                                                      reset_mechanism="zero", init_hidden=True))
    graph = export_nir.export_to_nir(net, torch.zeros((1, 4)), ignore_dims=[0])
    with pytest.raises(ExportError, match=r"'1.lif' \(LIF\) feeds back into itself \(a recurrent connection\)"):
        nir_to_netx(graph)


@pytest.mark.parametrize(("model", "part", "fragment"), [
    ("esvae", "decoder", "layer 2 (convT): NIR 1.0 has no transposed convolution node"),
    ("sae", "encoder", "voltage floor (vMinMant) has no NIR equivalent"),
])
def test_what_nir_cannot_state_is_refused_in_one_line(model, part, fragment, tiny_model_config):
    with pytest.raises(ExportError) as error:
        netx_to_nir(tiny_part(model, part, tiny_model_config))
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_cli_exports_a_run_to_nir_and_the_graph_to_netx(tiny_run, tmp_path, capsys):
    assert main(["export", "--nir", str(tiny_run), "--part", "encoder", "-o", str(tmp_path / "enc.nir")]) == 0
    assert main(["export", "--lava", str(tmp_path / "enc.nir"), "-o", str(tmp_path / "enc.net")]) == 0
    assert main(["export", "--lava", str(tiny_run), "--part", "encoder", "-o", str(tmp_path / "direct.net")]) == 0
    via_nir, direct = read_netx(tmp_path / "enc.net"), read_netx(tmp_path / "direct.net")
    assert all(a == b for a, b in zip(via_nir.layers, direct.layers, strict=True))
    assert main(["export", "--lava", str(tmp_path / "enc.nir"), "-o", str(tmp_path / "q.net"), "--precision",
                 "fixed"]) == 0
    assert read_netx(tmp_path / "q.net").precision == "fixed"
    assert main(["export", "--nir", str(tmp_path / "direct.net"), "-o", str(tmp_path / "again.nir")]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "LIF" in printed


@pytest.mark.parametrize(("args", "fragment"), [
    (["--nir", "RUN", "--part", "full", "-o", "OUT/m"], "layer 2 (convT): NIR 1.0 has no transposed convolution"),
    (["--nir", "RUN", "--part", "encoder", "--precision", "fixed", "-o", "OUT/m.nir"], "NIR has no fixed point"),
    (["--lava", "OUT/in.nir", "--part", "encoder", "-o", "OUT/m.net"], "--part selects a part of a run"),
    (["--lava", "RUN", "--dt", "1e-3", "-o", "OUT/m.net"], "--dt is the time step of a NIR graph"),
    (["--nir", "RUN", "--part", "encoder", "-o", "OUT/in.nir"], "exists; pass --force"),
])
def test_cli_export_nir_errors_are_one_line_and_write_nothing(args, fragment, tiny_run, tmp_path, capsys):
    write_nir(netx_to_nir(read_netx_of(tiny_run, tmp_path)), tmp_path / "in.nir")
    before = sorted(tmp_path.iterdir())
    code = main(["export", *[a.replace("RUN", str(tiny_run)).replace("OUT", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0]
    assert sorted(tmp_path.iterdir()) == before


def read_netx_of(run, folder):
    assert main(["export", "--lava", str(run), "--part", "encoder", "-o", str(folder / "enc.net")]) == 0
    return read_netx(folder / "enc.net")
