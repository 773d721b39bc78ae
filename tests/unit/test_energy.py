"""The energy model: fan-outs and synaptic operations against hand counts, the counting definitions on hand-built
runs, profile validation, the report's arithmetic, and `neurovae energy` (success and one-line errors)."""

import itertools
import json

import numpy as np
import pytest
import torch
import yaml

from neurovae.cli.main import main
from neurovae.energy import (
    EnergyProfileError,
    EnergyReport,
    LayerCounts,
    OperationCounter,
    count_chain,
    fan_in,
    fan_out,
    load_profile,
    plot_reports,
)
from neurovae.energy.profiles import PROFILES_DIR
from neurovae.energy.report import format_energy
from neurovae.export import quantize_network
from neurovae.netx import (
    ConvLayer,
    ConvTLayer,
    CubaNeuron,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    NetworkRecord,
    write_netx,
)
from neurovae.simulate import SimulationError, SimulationResult

NEURON = CubaNeuron(vThMant=1.0)


def hand_conv_fan_out(weight, in_shape, stride, padding):
    """Fan-out of every input of a conv2d by explicit loops over outputs, channels and kernel taps."""
    c_out, c_in, kh, kw = weight.shape
    _, h, w = in_shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    counts = np.zeros(in_shape, dtype=int)
    for o, i, y, x, dy, dx in itertools.product(range(c_out), range(c_in), range(ho), range(wo), range(kh), range(kw)):
        iy, ix = y * stride - padding + dy, x * stride - padding + dx
        if 0 <= iy < h and 0 <= ix < w and weight[o, i, dy, dx] != 0:
            counts[i, iy, ix] += 1
    return counts


def hand_conv_transpose_fan_out(weight, in_shape, stride, padding, out_hw):
    """Fan-out of every input of a conv_transpose2d (weight [C_in, C_out, kh, kw]) by explicit scatter loops."""
    c_in, c_out, kh, kw = weight.shape
    _, h, w = in_shape
    counts = np.zeros(in_shape, dtype=int)
    for i, o, y, x, dy, dx in itertools.product(range(c_in), range(c_out), range(h), range(w), range(kh), range(kw)):
        oy, ox = y * stride - padding + dy, x * stride - padding + dx
        if 0 <= oy < out_hw[0] and 0 <= ox < out_hw[1] and weight[i, o, dy, dx] != 0:
            counts[i, y, x] += 1
    return counts


def test_conv_fan_out_counts_borders_strides_and_zero_weights_like_a_hand_count():
    weight = np.random.default_rng(0).uniform(0.5, 1.5, (2, 3, 3, 3))
    weight[1, 2, 0, 0] = 0.0  # a pruned synapse costs nothing
    layer = ConvLayer(weight, NEURON, shape=(2, 3, 3), stride=(2, 2), padding=(1, 1))
    expected = hand_conv_fan_out(weight, (3, 5, 5), stride=2, padding=1)
    np.testing.assert_array_equal(fan_out(layer, (3, 5, 5)), expected)
    assert expected[0, 0, 0] == 2 and expected[0, 1, 1] == 8  # a corner reaches 1 output per channel, the centre 4
    structural = hand_conv_fan_out(np.ones_like(weight), (3, 5, 5), 2, 1)
    assert fan_in(layer, (3, 5, 5), structural=True).sum() == structural.sum()


def test_conv_transpose_and_dense_fan_out_like_a_hand_count():
    weight = np.random.default_rng(1).uniform(0.5, 1.5, (2, 3, 3, 3))  # [C_in, C_out, kh, kw]
    layer = ConvTLayer(weight, NEURON, shape=(3, 5, 5), stride=(2, 2), padding=(1, 1))
    expected = hand_conv_transpose_fan_out(weight, (2, 3, 3), 2, 1, (5, 5))
    np.testing.assert_array_equal(fan_out(layer, (2, 3, 3)), expected)
    dense = DenseLayer(np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]]), NEURON)
    assert fan_out(dense, (3,)).tolist() == [2, 0, 1]
    assert fan_in(dense, (3,)).tolist() == [2, 1] and fan_in(dense, (3,), structural=True).tolist() == [3, 3]


def small_conv_network():
    conv = ConvLayer(np.random.default_rng(2).uniform(0.2, 0.6, (2, 1, 3, 3)), CubaNeuron(vThMant=0.5),
                     shape=(2, 3, 3), stride=(2, 2), padding=(1, 1))
    dense = DenseLayer(np.random.default_rng(3).uniform(-0.5, 1.0, (3, 18)), CubaNeuron(vThMant=0.8))
    return NetworkRecord((InputLayer((1, 5, 5)), conv, FlattenLayer((18,)), dense))


def test_synaptic_operations_of_a_conv_network_equal_an_independent_hand_count():
    network = small_conv_network()
    rng = np.random.default_rng(4)
    inputs = (rng.uniform(size=(3, 1, 5, 5, 6)) < 0.5).astype(float)
    [counts] = count_chain([network], inputs, backend="emulator", progress=False)
    conv_fan = hand_conv_fan_out(network.layers[1].weight, (1, 5, 5), 2, 1)
    dense_fan = (network.layers[3].weight != 0).sum(0)
    delivered = inputs[..., :-1]  # a synapse delivers one step later: the last step's events never arrive
    assert counts[0].input_events == delivered.sum()
    assert counts[0].synaptic_ops == sum(delivered[n, ..., t].ravel() @ conv_fan.ravel()
                                         for n in range(3) for t in range(5))
    from neurovae.simulate.emulator import run_emulator

    spikes = run_emulator(network, inputs, progress=False).spikes[1].reshape(3, 18, 6)[..., :-1]
    assert counts[1].synaptic_ops == int(np.einsum("nit,i->", spikes, dense_fan)) > 0
    assert counts[0].connections == hand_conv_fan_out(np.ones((2, 1, 3, 3)), (1, 5, 5), 2, 1).sum()
    assert counts[1].connections == 3 * 18


def test_membrane_updates_active_when_the_voltage_changes_or_the_neuron_spikes():
    network = NetworkRecord((InputLayer((2,)), DenseLayer(np.ones((1, 2)), CubaNeuron(vThMant=1.0))))
    voltage = np.array([[[0.0, 0.5, 0.5, 0.0, 0.0, 0.3]]])  # [N=1, 1 neuron, T=6]
    spikes = np.array([[[False, False, False, True, False, False]]])
    inputs = np.array([[[1, 0, 0, 1, 0, 1], [0, 0, 1, 0, 0, 0]]], dtype=float)
    result = SimulationResult(spikes={1: spikes}, readout_voltage=voltage[..., -1], readout="spikes",
                              precision="float", backend="emulator", wall_s=1.0, voltages={1: voltage})
    counter = OperationCounter(network)
    counter.update(inputs, result)
    [layer] = counter.compute()
    # step 1 (0 -> .5) changes, 2 stays, 3 spikes (reset to 0), 4 stays at 0, 5 changes: 3 active, 3 inactive
    assert (layer.active_updates, layer.inactive_updates, layer.output_spikes) == (3, 3, 1)
    assert layer.input_events == 3 and layer.synaptic_ops == 3  # the input at the last step is never delivered
    assert layer.activation_sparsity == pytest.approx(5 / 6)
    counter.update(inputs, result)
    assert counter.compute()[0].per_sample("active_updates") == 3 and counter.samples == 2
    counter.reset()
    assert counter.samples == 0


def test_counting_needs_voltages():
    network = NetworkRecord((InputLayer((2,)), DenseLayer(np.ones((1, 2)), NEURON)))
    result = SimulationResult(spikes={1: np.zeros((1, 1, 3), bool)}, readout_voltage=np.zeros((1, 1)),
                              readout="spikes", precision="float", backend="lava", wall_s=1.0)
    with pytest.raises(SimulationError, match="record_voltage=True"):
        OperationCounter(network).update(np.zeros((1, 2, 3)), result)


def test_shipped_profiles_carry_the_published_figures():
    loihi = load_profile("loihi1")
    assert {name: loihi.pj(name) for name in loihi.constants} == {
        "synaptic_op": 23.6, "synaptic_update": 120.0, "neuron_update_active": 81.0, "neuron_update_inactive": 52.0,
        "spike_within_tile": 1.7, "tile_hop": 3.0}
    assert all("Davies et al. 2018" in loihi.source(name) for name in loihi.constants)
    ann = load_profile("ann_horowitz2014")
    assert (ann.pj("fp32_mac"), ann.pj("fp32_add"), ann.pj("int8_mac")) == (4.6, 0.9, 0.23)
    assert load_profile("keras_spiking_loihi").pj("synaptic_op") == pytest.approx(27.1)
    with pytest.raises(EnergyProfileError, match="synaptic_op has no value"):
        load_profile("loihi2_user_template")  # user-supplied: refused until filled in


def _profile(tmp_path, edit):
    raw = yaml.safe_load((PROFILES_DIR / "loihi1.yaml").read_text())
    edit(raw)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda raw: raw["constants"].pop("tile_hop"), "misses tile_hop"),
    (lambda raw: raw["constants"]["synaptic_op"].update(pj=-1.0), "must be a finite, non-negative"),
    (lambda raw: raw["constants"]["synaptic_op"].update(pj="lots"), "is not a number"),
    (lambda raw: raw["constants"]["synaptic_op"].pop("source"), "needs 'pj' and a 'source'"),
    (lambda raw: raw["constants"].update(bogus={"pj": 1.0, "source": "x"}), "unknown constants bogus"),
    (lambda raw: raw.update(kind="quantum"), "kind 'quantum'"),
    (lambda raw: raw["routing"].update(hops_per_spike=-2), "hops_per_spike"),
])
def test_bad_profiles_are_one_line_errors(tmp_path, edit, fragment):
    with pytest.raises(EnergyProfileError) as error:
        load_profile(_profile(tmp_path, edit))
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_a_filled_in_user_profile_is_flagged_in_the_report(tmp_path):
    path = _profile(tmp_path, lambda raw: raw.update(user_supplied=True, name="loihi2_mine"))
    counts = [LayerCounts(index=1, type="dense", neurons=2, connections=6, graded_input=False, readout=False,
                          samples=2, steps=4, input_events=10, synaptic_ops=20, active_updates=12,
                          inactive_updates=4, output_spikes=6)]
    report = EnergyReport("net", counts, load_profile(path), load_profile("ann_horowitz2014"), "emulator", "float")
    assert "USER-SUPPLIED" in report.table()
    assert report.to_dict()["profiles"]["spiking"]["user_supplied"] is True


def test_report_energy_is_counts_times_constants():
    counts = [LayerCounts(index=1, type="conv", neurons=8, connections=40, graded_input=True, readout=False,
                          samples=2, steps=5, input_events=30, synaptic_ops=100, active_updates=60,
                          inactive_updates=20, output_spikes=10, synaptic_updates=4)]
    report = EnergyReport("net", counts, load_profile("loihi1"), load_profile("ann_horowitz2014"), "torch", "float")
    parts = report.spiking_pj(counts[0])
    assert parts["synaptic"] == pytest.approx(50 * 23.6)
    assert parts["neuron_active"] == pytest.approx(30 * 81.0) and parts["neuron_inactive"] == pytest.approx(10 * 52.0)
    assert parts["spikes"] == pytest.approx(5 * (1.7 + 1.0 * 3.0)) and parts["learning"] == pytest.approx(2 * 120.0)
    assert report.ann_pj(counts[0]) == pytest.approx({"fp32": 40 * 4.6 + 8 * 0.9, "int8": 40 * 0.23 + 8 * 0.03})
    assert report.accelerator_pj(counts[0]) == pytest.approx(50 * 4.6)  # graded input: MACs
    totals = report.totals()
    assert totals["ann_fp32_over_snn"] == pytest.approx(totals["ann_fp32_pj"] / totals["snn_pj"])
    assert report.activation_sparsity() == pytest.approx(1 - 10 / 80)


# --------------------------------------------------------------------------------------------------- CLI


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_energy_cli_writes_table_json_and_png(tmp_path, capsys):
    network = quantize_network(small_conv_network())
    write_netx(network, tmp_path / "small.net")
    inputs = (np.random.default_rng(5).uniform(size=(4, 1, 5, 5, 6)) < 0.4).astype(float)
    np.save(tmp_path / "in.npy", inputs)
    out = tmp_path / "report" / "energy.json"
    code, stdout, err = _cli(capsys, "energy", tmp_path / "small.net", "--input", tmp_path / "in.npy", "-n", "4",
                             "-o", out, "--no-progress", "--precision", "fixed")
    assert code == 0, err
    assert "syn ops" in stdout and "Davies et al. 2018" in stdout and "Horowitz 2014" in stdout
    report = json.loads(out.read_text())["reports"][0]
    assert report["samples"] == 4 and report["precision"] == "fixed" and len(report["layers"]) == 2
    [expected] = count_chain([network], inputs, precision="fixed", progress=False)
    assert report["layers"][0]["synaptic_ops"] == expected[0].synaptic_ops / 4
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--profile", "nope"], "unknown energy profile 'nope'"),
    (["--backend", "torch"], "--backend torch runs the trained snnTorch model"),
    (["-n", "0"], "positive number of samples"),
])
def test_energy_cli_bad_requests_are_one_line_errors(tmp_path, capsys, extra, fragment):
    write_netx(small_conv_network(), tmp_path / "small.net")
    np.save(tmp_path / "in.npy", np.zeros((2, 1, 5, 5, 4)))
    code, _, err = _cli(capsys, "energy", tmp_path / "small.net", "--input", tmp_path / "in.npy",
                        "-o", tmp_path / "e.json", "--no-progress", *extra)
    assert code == 2 and err.count("\n") == 1 and fragment in err, err
    assert not (tmp_path / "e.json").exists() and not (tmp_path / "e.png").exists()


def test_energy_cli_refuses_a_bad_constants_file_and_a_mismatched_input(tmp_path, capsys):
    write_netx(small_conv_network(), tmp_path / "small.net")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 1, 4, 4, 4)))
    code, _, err = _cli(capsys, "energy", tmp_path / "small.net", "--input", tmp_path / "wrong.npy",
                        "-o", tmp_path / "e.json", "--no-progress")
    assert code == 2 and "inputs have shape (2, 1, 4, 4, 4)" in err and err.count("\n") == 1
    bad = _profile(tmp_path, lambda raw: raw["constants"]["neuron_update_active"].update(pj=-81))
    code, _, err = _cli(capsys, "energy", tmp_path / "small.net", "--input", tmp_path / "wrong.npy",
                        "--profile", bad, "-o", tmp_path / "e.json", "--no-progress")
    assert code == 2 and "neuron_update_active = -81" in err and err.count("\n") == 1
    assert not (tmp_path / "e.json").exists()


def test_energy_cli_on_a_run_counts_the_same_with_torch_and_the_emulator(tmp_path, capsys, tiny_config_dict, idx):
    data = idx.folder(tmp_path / "mnist", n_train=32, n_test=8, gz=True)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(dataset="mnist", batch_size=16)))
    run = tmp_path / "run"
    assert main(["train", str(config), "--data", str(data), "--out", str(run), "--epochs", "1", "--no-progress",
                 "--device", "cpu"]) == 0
    reports = {}
    for backend in ("torch", "emulator"):
        out = tmp_path / f"{backend}.json"
        code, _, err = _cli(capsys, "energy", run, "--input", "dataset", "--data", data, "-n", "3",
                            "--backend", backend, "-o", out, "--no-progress")
        assert code == 0, err
        reports[backend] = json.loads(out.read_text())["reports"]
    assert [r["network"] for r in reports["torch"]] == ["run:encoder", "run:decoder"]
    for ours, theirs in zip(reports["torch"], reports["emulator"], strict=True):
        for a, b in zip(ours["layers"], theirs["layers"], strict=True):
            assert {k: a[k] for k in ("synaptic_ops", "active_updates", "output_spikes")} == \
                   {k: b[k] for k in ("synaptic_ops", "active_updates", "output_spikes")}
    assert (tmp_path / "torch.png").is_file()


# ------------------------------------------------------------------------------------------ learning (sleep)


def test_learning_counts_of_one_step_equal_a_hand_count():
    from neurovae.energy.learning import LearningCounter, PlasticConv

    counter = LearningCounter([PlasticConv((2, 1, 3, 3), stride=1, padding=1, input_shape=(1, 4, 4),
                                           output_shape=(2, 4, 4))])
    pre = torch.zeros(1, 1, 4, 4)
    pre[0, 0, 0, 0] = 1  # a corner input reaches 2 x 2 output positions in each of 2 channels
    post = torch.zeros(1, 2, 4, 4)
    post[0, 1, 0, 0] = 1  # a corner output has 2 x 2 inputs inside the image
    before, after = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    after[0, 0, 1, 1] = 0.3
    counter.update(0, pre, post, before, after)
    [layer] = counter.compute()
    assert (layer.input_events, layer.synaptic_ops, layer.output_spikes) == (1, 8, 1)
    assert layer.synaptic_updates == 2 * 4  # every synapse of the firing neuron, feedforward and mirror
    assert (layer.active_updates, layer.inactive_updates) == (2, 30)
    assert (layer.samples, layer.steps, layer.neurons) == (1, 1, 32)


def test_sleep_counts_agree_with_the_sleep_and_are_priced_with_learning():
    from neurovae.energy.learning import LearningCounter
    from neurovae.sleep.convert import SleepLayer
    from neurovae.sleep.run import plastic_convolutions
    from neurovae.sleep.vae_sleep import VAESleepConfig, sleep_torch

    generator = torch.Generator().manual_seed(0)
    layers = [SleepLayer("a", "a'", torch.rand(4, 1, 2, 2, generator=generator), torch.rand(4, 1, 2, 2), 2, 0)]
    images = torch.rand(6, 1, 8, 8, generator=generator)
    counter = LearningCounter(plastic_convolutions(layers, (1, 8, 8)))
    config = VAESleepConfig(input_rate_hz=500, thresholds=(0.5,), duration=40, batch=2, seed=1)
    [rate] = sleep_torch(layers, images, config, counter=counter)
    [layer] = counter.compute()
    assert layer.samples == 2 and layer.steps == 20
    assert layer.output_spikes == pytest.approx(rate * layer.neurons * layer.steps * layer.samples)
    assert layer.synaptic_updates == 2 * 4 * layer.output_spikes  # 2x2 kernel, stride 2: 4 synapses per neuron
    report = EnergyReport("sleep", [layer], load_profile("loihi1"), load_profile("ann_horowitz2014"), "torch",
                          "float")
    assert report.spiking_pj(layer)["learning"] == pytest.approx(layer.synaptic_updates / 2 * 120.0)


@pytest.mark.parametrize(("pj", "text"), [
    (77_935_600.0, "77.9 µJ"), (77_935.6, "77.9 nJ"), (512.0, "512.0 pJ"), (0.4, "0.4 pJ"), (2.5e9, "2.5 mJ"),
])
def test_energies_are_written_in_the_unit_of_their_magnitude(pj, text):
    assert format_energy(pj) == text


def test_the_energy_plot_title_and_axis_use_the_unit_of_the_totals(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    counts = [LayerCounts(index=1, type="dense", neurons=8, connections=40, graded_input=False, readout=False,
                          samples=1, steps=5, input_events=30, synaptic_ops=3_000_000, active_updates=60,
                          inactive_updates=20, output_spikes=10)]
    report = EnergyReport("net", counts, load_profile("loihi1"), load_profile("ann_horowitz2014"), "torch", "float")
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    plot_reports([report], tmp_path / "e.png")
    title, ylabel = figures[0].axes[1].get_title(), figures[0].axes[1].get_ylabel()
    assert f"total SNN {report.totals()['snn_pj'] / 1e6:.1f} µJ" in title and "nJ" not in title
    assert ylabel == "µJ per sample"
