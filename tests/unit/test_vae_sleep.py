"""VAE-sleep pieces against hand computations: STDP rule, Loihi dw strings, conversion and normalization, the
batched sleep, parameter refusals, and ``neurovae sleep`` end to end on a tiny CVAE."""

import dataclasses
import json
import re

import pytest
import torch
from torch import nn

from neurovae.cli.main import main
from neurovae.errors import ConfigError, NeurovaeError
from neurovae.models.cvae import CVAE, CVAEConfig
from neurovae.sleep.convert import ConversionError, SleepLayer, normalize, sleep_layers, to_ann, to_snn
from neurovae.sleep.encoding import bernoulli_spikes, spike_probability
from neurovae.sleep.neuron import if_step
from neurovae.sleep.report import sleep_table
from neurovae.sleep.run import sleep_model, table3_config
from neurovae.sleep.stdp import MirroredSTDP, conv_pairs, dense_pairs, lava_scale_terms
from neurovae.sleep.vae_sleep import VAESleepConfig, calibrate_thresholds, sleep_torch


def tiny_cvae(**overrides):
    torch.manual_seed(0)
    return CVAE(CVAEConfig(**{"image_size": 8, "channels": (4, 8), "hidden_dim": 16, "latent_dim": 4, **overrides}))


def test_mirrored_stdp_on_a_hand_computed_case():
    rule = MirroredSTDP(a_ltp=0.5, a_ltd=0.25, w_lb=-1.0, w_ub=1.0)
    weights = torch.tensor([[0.0, 0.5], [-0.5, 0.9]])
    pre = torch.tensor([[1.0, 0.0]])  # visible 0 fires, 1 is silent
    post = torch.tensor([[1.0, 0.0]])  # hidden 0 fires, 1 is silent
    both, post_only = dense_pairs(pre, post)
    assert both.tolist() == [[1, 0], [0, 0]] and post_only.tolist() == [[0, 1], [0, 0]]
    delta = rule.delta(weights, both, post_only)
    # w=0: S = 1 * 1 = 1, +0.5; w=0.5: S = 1.5 * 0.5 = 0.75, -0.25 * 0.75; silent post: no change
    assert delta.tolist() == [[0.5, -0.1875], [0.0, 0.0]]
    assert rule.delta(torch.tensor([[1.0, -1.0]]), torch.ones(1, 2), torch.ones(1, 2)).abs().max() == 0  # bounds


def test_conv_pairs_average_the_dense_pairs_over_shared_positions():
    generator = torch.Generator().manual_seed(0)
    pre = (torch.rand(2, 1, 4, 4, generator=generator) < 0.5).float()
    post = (torch.rand(2, 2, 2, 2, generator=generator) < 0.5).float()
    both, post_only = conv_pairs(pre, post, (2, 1, 4, 4), stride=2, padding=1)
    padded = nn.functional.pad(pre, (1, 1, 1, 1))
    valid = nn.functional.pad(torch.ones_like(pre), (1, 1, 1, 1))
    expect_both, expect_post_only, count = (torch.zeros(2, 1, 4, 4) for _ in range(3))
    for b in range(2):
        for c in range(2):
            for y in range(2):
                for x in range(2):
                    window, inside = padded[b, 0, 2 * y:2 * y + 4, 2 * x:2 * x + 4], valid[0, 0, 2 * y:2 * y + 4,
                                                                                          2 * x:2 * x + 4]
                    expect_both[c, 0] += post[b, c, y, x] * window
                    expect_post_only[c, 0] += post[b, c, y, x] * (1 - window) * inside
                    if b == 0 and c == 0:
                        count[:, 0] += inside
    torch.testing.assert_close(both, expect_both / count)
    torch.testing.assert_close(post_only, expect_post_only / count)


def test_lava_dw_constants_fit_loihi_and_are_reported_exactly():
    assert lava_scale_terms(0.375) == [(3, -3)]
    rule = MirroredSTDP(0.25, 0.125, -1.5, 2.0)
    assert rule.lava_dw() == ("-3*2^-3 * y0 * x1 * (w + 3*2^-1) * (w - 2*2^-0) + "
                              "1*2^-3 * y0 * (w + 3*2^-1) * (w - 2*2^-0)")
    assert "x0 * y1" in rule.lava_dw(feedback=True)
    assert rule.realized() == rule
    table3 = MirroredSTDP(0.0063, 0.0069, -1.0, 1.0)
    exponent = table3.lava_weight_exponent()
    realized = table3.realized(exponent)
    assert exponent < 0 and abs(realized.a_ltp / 0.0063 - 1) < 1e-2 and abs(realized.a_ltd / 0.0069 - 1) < 1e-2
    scales = re.findall(r"(-?\d+)\*2\^(-?\d+) \* y0", table3.lava_dw(exponent))
    assert len(scales) >= 2
    for mantissa, power in scales:
        assert -8 <= int(mantissa) < 8 and -7 <= int(power) <= 8


def test_integrate_and_fire_and_bernoulli_input():
    spikes, voltage = if_step(torch.tensor([0.25, 0.75]), torch.tensor([0.5, 0.5]), 1.0)
    assert spikes.tolist() == [0.0, 1.0] and voltage.tolist() == [0.75, 0.0]
    assert spike_probability(40, 0.001) == pytest.approx(0.04)
    rates = torch.stack([bernoulli_spikes(torch.tensor([1.0, 0.5, 0.0]), 0.4, torch.Generator().manual_seed(i))
                         for i in range(4000)]).mean(0)
    assert abs(rates[0] - 0.4) < 0.03 and abs(rates[1] - 0.2) < 0.03 and rates[2] == 0


@pytest.mark.parametrize("overrides, fragment", [
    ({"input_rate_hz": -40.0}, "input rate must be positive"),
    ({"w_lb": 1.0, "w_ub": 1.0}, "w_lb < w_ub"),
    ({"w_lb": 0.0069, "w_ub": 0.0063}, "w_lb < w_ub"),
    ({"a_ltd": -0.1}, "STDP steps must be >= 0"),
    ({"thresholds": (36.18, -1.0)}, "thresholds must be positive"),
    ({"input_rate_hz": 4000.0}, "at most 1"),
    ({"target_rate": 1.5}, "rho"),
    ({"leak": 1.0}, "leak must be in"),
])
def test_sleep_parameters_outside_their_sense_are_refused(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment) as error:
        VAESleepConfig(**overrides)
    assert "\n" not in str(error.value)


def test_normalization_scales_are_ratios_of_maximum_activations():
    model = tiny_cvae()
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    layers = sleep_layers(model)
    scales = normalize(layers, images)
    first = torch.relu(model.encoder[0](images))
    second = torch.relu(model.encoder[2](first))
    assert scales == pytest.approx([1 / first.max().item(), first.max().item() / second.max().item()])
    assert [layer.name for layer in layers] == ["encoder.0", "encoder.2"]
    assert [layer.mirror_name for layer in layers] == ["decoder.7", "decoder.5"]


def test_conversion_round_trip_keeps_the_model_and_refuses_what_does_not_convert():
    model = tiny_cvae()
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    back = to_ann(model, to_snn(model, (images + 1) / 2)).eval()
    torch.testing.assert_close(back(images).reconstruction, model.eval()(images).reconstruction, rtol=0, atol=0)

    biased = tiny_cvae()
    biased.encoder[2] = nn.Conv2d(4, 8, 4, 2, 1)
    with pytest.raises(ConversionError, match=r"encoder\.2 \(Conv2d\) has a bias"):
        sleep_layers(biased)
    tanh = tiny_cvae()
    tanh.encoder[3] = nn.Tanh()
    with pytest.raises(ConversionError, match=r"encoder\.2 \(Conv2d\) is followed by Tanh, not ReLU"):
        sleep_layers(tanh)
    broken = tiny_cvae()
    with torch.no_grad():
        broken.decoder[5].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ConversionError, match=r"decoder\.5 \(ConvTranspose2d\) has NaN or infinite weights"):
        sleep_layers(broken)


def test_batched_sleep_moves_mirrored_weights_by_the_same_pairs():
    generator = torch.Generator().manual_seed(0)
    weight = torch.rand(3, 1, 2, 2, generator=generator)
    layer = SleepLayer("enc", "dec", weight.clone(), weight.clone(), stride=2, padding=0)
    config = VAESleepConfig(input_rate_hz=500, duration=40, batch=4, thresholds=(0.3,), ampa_scale=1.0,
                            a_ltp=0.02, a_ltd=0.01)
    rates = sleep_torch([layer], torch.rand(10, 1, 4, 4, generator=generator), config)
    assert rates[0] > 0.05
    assert (layer.weight - weight).abs().max() > 1e-3
    torch.testing.assert_close(layer.weight, layer.mirror_weight)  # equal start, equal pairs: equal weights
    with pytest.raises(ConfigError, match="2 sleep thresholds given for 1 sleeping layers"):
        VAESleepConfig(thresholds=(1.0, 2.0)).effective_thresholds([layer])


def test_sleep_model_returns_a_changed_copy():
    model = tiny_cvae()
    images = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    config = table3_config("fashion_mnist", duration=30, batch=2, input_rate_hz=500.0, thresholds=(0.05, 0.05))
    slept, summary = sleep_model(model, images, config)
    assert [entry["name"] for entry in summary["layers"]] == ["encoder.0", "encoder.2"]
    assert summary["layers"][0]["firing_rate"] > 0
    assert not torch.equal(slept.encoder[0].weight, model.encoder[0].weight)
    assert torch.equal(slept.mean.weight, model.mean.weight)  # only the mirrored convolutions sleep
    with pytest.raises(NeurovaeError, match="unknown sleep backend"):
        sleep_model(model, images, config, backend="gpu")


def test_a_layer_that_cannot_fire_warns_in_one_line_naming_it_and_a_firing_sleep_does_not():
    model = tiny_cvae()
    images = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    fires = table3_config("fashion_mnist", duration=30, input_rate_hz=500.0, thresholds=(0.05, 0.05))
    for backend in ("torch", "emulator"):
        summary = sleep_model(model, images, fires, backend)[1]
        assert min(layer["firing_rate"] for layer in summary["layers"]) > 0 and summary["warnings"] == []
        [warning] = sleep_model(model, images, dataclasses.replace(fires, thresholds=(0.05, 1e3)), backend)[1][
            "warnings"]  # the second layer's threshold is out of its reach
        assert warning.startswith("layer encoder.2 never fired during sleep (rate 0): raise the input rate")
        assert "--thresholds" in warning and "did not change" in warning and "\n" not in warning
    frozen = sleep_model(model, images, dataclasses.replace(fires, a_ltp=0.0, a_ltd=0.0))[1]["warnings"]
    assert [w.split(" (rate")[0] for w in frozen] == ["layer encoder.0 fired", "layer encoder.2 fired"]
    assert all("did not change (mean |dW| 0): raise a_LTP / a_LTD" in w for w in frozen)


def test_sleep_table_has_a_row_per_layer_with_the_relative_change():
    layers = [{"name": "encoder.0", "mirror": "decoder.7", "firing_rate": 3.3e-5, "weight_change": 0.011,
               "weight_magnitude": 0.13},
              {"name": "encoder.2", "mirror": "decoder.5", "firing_rate": 0.0, "weight_change": 0.0,
               "weight_magnitude": 0.0}]
    header, first, second = sleep_table(layers).splitlines()
    assert header.split("  ")[0] == "layer (mirror)" and header.endswith("relative change")
    assert first.split() == ["encoder.0", "(decoder.7)", "3.30e-05", "1.10e-02", "1.30e-01", "8.46%"]
    assert second.split()[-1] == "0.00%"  # a layer of zeros moved by nothing: no division by zero
    assert len({len(header), len(first), len(second)}) == 1


def test_sleep_command_writes_a_run_that_eval_reads(capsys, cvae_run):
    root, data = cvae_run
    argv = ["sleep", str(root / "run"), "--data", str(data), "--duration", "20", "--batch", "4", "--thresholds",
            "0.1", "0.1", "--input-rate", "500", "--no-progress"]
    capsys.readouterr()
    assert main([*argv, "--out", str(root / "slept")]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0].startswith("layer (mirror)") and "{" not in out.out and out.err == ""
    summary = json.loads((root / "slept" / "sleep.json").read_text())
    assert summary["warnings"] == [] and summary["layers"][0]["weight_magnitude"] > 0
    assert summary["backend"] == "torch" and summary["sleep"]["duration"] == 20
    assert (root / "slept" / "history.jsonl").read_text() == (root / "run" / "history.jsonl").read_text()
    energy = summary["energy"]  # what this sleep would cost on Loihi 1
    assert energy["profiles"]["spiking"]["name"] == "loihi1" and energy["samples"] == 4
    assert [layer["synaptic_updates"] > 0 for layer in energy["layers"]] == [True, True]
    assert main(["eval", str(root / "slept"), "--data", str(data), "-n", "16", "--probe-images", "0",
                 "--no-progress"]) == 0
    assert (root / "slept" / "eval" / "metrics.json").is_file()
    capsys.readouterr()

    assert main([*argv, "--w-lb", "2", "--w-ub", "1", "--out", str(root / "bad")]) == 2
    error = capsys.readouterr().err.splitlines()
    assert len(error) == 1 and "w_lb < w_ub" in error[0] and not (root / "bad").exists()
    assert main([*argv, "--input-rate=-3", "--out", str(root / "bad")]) == 2
    assert "input rate must be positive" in capsys.readouterr().err


def test_sleep_command_warns_when_table3_leaves_the_layers_silent(capsys, cvae_run):
    root, data = cvae_run
    capsys.readouterr()
    assert main(["sleep", str(root / "run"), "--data", str(data), "--duration", "200", "--no-progress",
                 "--out", str(root / "silent")]) == 0
    out = capsys.readouterr()
    warnings = out.err.splitlines()
    assert [line.split(" never fired")[0] for line in warnings] == ["warning: layer encoder.0",
                                                                    "warning: layer encoder.2"]
    assert [row.split()[2] for row in out.out.splitlines()[1:3]] == ["0.00e+00", "0.00e+00"]
    assert len(json.loads((root / "silent" / "sleep.json").read_text())["warnings"]) == 2


def test_calibrated_thresholds_make_each_layer_fire_at_the_target_rate():
    generator = torch.Generator().manual_seed(0)
    layers = [SleepLayer("a", "a'", torch.rand(4, 1, 2, 2, generator=generator), torch.zeros(4, 1, 2, 2), 2, 0),
              SleepLayer("b", "b'", torch.rand(3, 4, 2, 2, generator=generator), torch.zeros(3, 4, 2, 2), 2, 0)]
    images = torch.rand(10, 1, 8, 8, generator=generator)
    config = VAESleepConfig(input_rate_hz=500, thresholds=(1.0, 1.0), target_rate=0.1, batch=4)
    thresholds = calibrate_thresholds(layers, images, config, steps=100, iterations=10)
    rates = sleep_torch(layers, images, VAESleepConfig(input_rate_hz=500, thresholds=thresholds, a_ltp=0.0,
                                                       a_ltd=0.0, duration=800, batch=4, seed=1))
    assert rates == pytest.approx([0.1, 0.1], rel=0.3)
