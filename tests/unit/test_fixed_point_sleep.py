"""Loihi's fixed-point learning engine as neurovae emulates it, against slow integer references (no Lava needed).

``tests/parity/test_vae_sleep_lava.py`` checks the emulator against Lava ``fixed_pt`` itself, bit for bit."""

import itertools
import json

import numpy as np
import pytest
import torch

from neurovae.cli.main import main
from neurovae.errors import ConfigError
from neurovae.sleep.convert import SleepLayer
from neurovae.sleep.fixed_point import FixedPointRule, Product, Tags, learn, rounding_randoms
from neurovae.sleep.on_chip import conv_as_dense, emulate_fixed, lower
from neurovae.sleep.run import check_backend
from neurovae.sleep.stdp import MirroredSTDP
from neurovae.sleep.vae_sleep import VAESleepConfig, input_spikes


def reference_learn(weight, products, pre, post, impulses, random, tags=None):
    """Lava's LearningRuleApplierBitApprox and stochastic rounding, entry by entry in Python integers."""
    out = [row[:] for row in weight]
    for i, row in enumerate(weight):
        for j, w in enumerate(row):
            accumulator = w << 7
            for product in products:
                dependency = post[i] if product.dependency == "y0" else pre[j]
                value = product.mantissa * dependency
                widths = 0
                for name, constant in product.factors:
                    raw = {"x1": impulses.get("x1", 0) * pre[j], "y1": impulses.get("y1", 0) * post[i], "w": w,
                           "t": 0 if tags is None else tags[i][j]}[name]
                    bits = 7 if name in ("x1", "y1") else 9
                    widths += bits
                    value *= min(max(raw + constant, -(2**bits)), 2**bits - 1)
                value >>= max(0, widths + 4 - 15)
                value <<= product.exponent + 7
                value = min(max(value, -(2**15) - 1), 2**15 - 1)
                accumulator = min(max(accumulator + value, -(2**15) - 1), 2**15 - 1)
            whole, fraction = divmod(accumulator, 128)
            out[i][j] = min(max(whole + (random < fraction / 128), -256), 255)
    return out


@pytest.mark.parametrize("feedback", [False, True])
@pytest.mark.parametrize("tagged", [False, True])
def test_learn_equals_the_integer_reference(feedback, tagged):
    rule = FixedPointRule.for_weights(MirroredSTDP(0.05, 0.03, -1.0, 1.0), 0.9, tagged=tagged)
    generator = torch.Generator().manual_seed(0)
    weight = (torch.randint(-128, 128, (5, 7), generator=generator) * 2).to(torch.int64)
    tags = (torch.rand(5, 7, generator=generator) < 0.6).to(torch.int64) * 255 if tagged else None
    pre, post = torch.tensor([1, 0, 1, 1, 0, 0, 1], dtype=torch.bool), torch.tensor([0, 1, 1, 0, 1], dtype=torch.bool)
    impulses = rule.impulses(feedback)
    for random in (0.0, 0.37, 0.999):
        expected = reference_learn(weight.tolist(), rule.products(feedback), pre.int().tolist(), post.int().tolist(),
                                   impulses, random, None if tags is None else tags.tolist())
        got = learn(weight.clone(), rule.products(feedback), pre, post, impulses, random,
                    None if tags is None else Tags.of(tags))
        assert got.tolist() == expected
        assert got.tolist() != weight.tolist(), "the case must change weights"


@pytest.mark.parametrize("seed", range(4))
def test_tagged_learning_visits_only_tagged_entries_yet_equals_the_reference(seed):
    """Rows and columns with different numbers of synapses (none, too), pads never written."""
    generator = torch.Generator().manual_seed(seed)
    rule = FixedPointRule.for_weights(MirroredSTDP(0.05, 0.03, -1.0, 1.0), 0.9, tagged=True)
    tags = (torch.rand(9, 13, generator=generator) < 0.3).to(torch.int64) * 255
    tags[2] = 0  # a row without synapses
    weight = (torch.randint(-128, 128, (9, 13), generator=generator) * 2).to(torch.int64) * (tags > 0)
    pre, post = torch.rand(13, generator=generator) < 0.5, torch.rand(9, generator=generator) < 0.5
    for feedback in (False, True):
        w, t, a, b = (weight.T, tags.T, post, pre) if feedback else (weight, tags, pre, post)
        expected = reference_learn(w.tolist(), rule.products(feedback), a.int().tolist(), b.int().tolist(),
                                   rule.impulses(feedback), 0.3, t.tolist())
        assert learn(w.clone(), rule.products(feedback), a, b, rule.impulses(feedback), 0.3, Tags.of(t)).tolist() == \
            expected


def test_learn_changes_only_what_the_rule_reaches():
    rule = FixedPointRule.for_weights(MirroredSTDP(0.05, 0.03, -1.0, 1.0), 0.9)
    weight = torch.full((3, 4), 10, dtype=torch.int64)
    pre, post = torch.tensor([1, 0, 0, 1], dtype=torch.bool), torch.tensor([0, 1, 0], dtype=torch.bool)
    after = learn(weight.clone(), rule.products(), pre, post, rule.impulses(), 0.5)
    assert after[0].tolist() == after[2].tolist() == [10] * 4  # hidden neurons that did not fire
    assert after[1, 0] > 10 and after[1, 3] > 10 and after[1, 1] < 10 and after[1, 2] < 10  # LTP / LTD
    mirror = learn(weight.T.clone(), rule.products(feedback=True), post, pre, rule.impulses(feedback=True), 0.5)
    assert torch.equal(mirror, after.T), "the mirror moves on the same pairs by the same amounts"
    silent = torch.zeros(3, dtype=torch.bool)
    assert torch.equal(learn(weight.clone(), rule.products(), pre, silent, rule.impulses(), 0.5), weight)


def test_rounding_randoms_are_lavas_stream():
    """Lava's ConnVarRandom draws once when built and once at the start of every learning epoch (seed 2)."""
    generator = np.random.default_rng(2)
    generator.random(1)
    assert list(itertools.islice(rounding_randoms(), 5000)) == [generator.random(1)[0] for _ in range(5000)]


def test_fixed_point_rule_fits_loihi_and_realizes_table3():
    table3 = MirroredSTDP(0.0063, 0.0069, -1.0, 1.0)
    for tagged in (False, True):
        rule = FixedPointRule.for_weights(table3, 0.7, tagged=tagged)
        assert (rule.weight_exponent, rule.lower, rule.upper) == (8, -256, 256)
        realized = rule.realized()
        assert realized.a_ltp == pytest.approx(0.0063, rel=0.02) and realized.a_ltd == pytest.approx(0.0069, rel=0.02)
        for product in rule.products():
            assert -8 <= product.mantissa <= 7 and -7 <= product.exponent <= 8
        assert set(rule.impulses().values()) <= set(range(1, 128))
        assert (" * t" in rule.dw()) == tagged
    assert FixedPointRule.for_weights(table3, 1.7).weight_exponent == 7  # |W| <= 255
    quantized = FixedPointRule.for_weights(table3, 0.7).quantize(torch.tensor([0.7, -0.7, 0.0031, -0.0031, 5.0]))
    assert quantized.tolist() == [180, -180, 0, 0, 254] and (quantized % 2 == 0).all()


def test_fixed_point_rules_outside_loihi_are_refused():
    with pytest.raises(ConfigError, match="collapse to one value"):
        FixedPointRule.for_weights(MirroredSTDP(0.01, 0.01, 0.0, 0.001), 0.5)
    with pytest.raises(ConfigError, match="outside what Loihi's learning engine can scale"):
        FixedPointRule.for_weights(MirroredSTDP(1e-9, 1e-9, -1.0, 1.0), 0.5)
    with pytest.raises(ValueError, match="m \\* 2\\^e"):
        Product("y0", (("w", 0),), mantissa=9, exponent=0)
    with pytest.raises(ConfigError, match="both 0"):
        FixedPointRule.for_weights(MirroredSTDP(0.0, 0.0, -1.0, 1.0), 0.5)
    with pytest.raises(ConfigError, match="NaN or infinite"):
        FixedPointRule.for_weights(MirroredSTDP(0.01, 0.01, -1.0, 1.0), float("nan"))


def test_a_threshold_beyond_loihis_17_bits_is_refused():
    layer = SleepLayer("enc", "dec", torch.full((2, 1, 4, 4), 0.1, dtype=torch.float64),
                       torch.full((2, 1, 4, 4), 0.1, dtype=torch.float64), 2, 1)
    with pytest.raises(ConfigError, match="layer enc: .* above Loihi's 17-bit 131071"):
        lower([layer], (1, 8, 8), [1000.0], MirroredSTDP(0.01, 0.01, -1.0, 1.0), "fixed")


def test_emulated_sleep_of_a_convolution_learns_only_its_synapses():
    generator = torch.Generator().manual_seed(0)
    layers = [SleepLayer("enc", "dec", torch.rand(3, 1, 4, 4, generator=generator, dtype=torch.float64) * 0.6 - 0.2,
                         torch.rand(3, 1, 4, 4, generator=generator, dtype=torch.float64) * 0.6 - 0.2, 2, 1)]
    config = VAESleepConfig(input_rate_hz=500, duration=80, thresholds=(0.5,), ampa_scale=1.0, a_ltp=0.05, a_ltd=0.03)
    spikes = torch.cat(list(input_spikes(torch.rand(4, 1, 8, 8, generator=generator, dtype=torch.float64), config)))
    device = lower(layers, (1, 8, 8), config.effective_thresholds(layers), config.rule, "fixed")
    (forward,), (mirror,), (rate,) = emulate_fixed(device, spikes.flatten(1))
    _, taps = conv_as_dense(layers[0], (1, 8, 8))
    assert rate > 0.05 and np.abs(forward - device[0].forward.weights).sum() > 100
    assert not forward[taps < 0].any() and not mirror.T[taps < 0].any()


def test_backend_and_precision_pairs():
    for backend, precision in (("torch", "float"), ("emulator", "fixed"), ("lava", "float"), ("lava", "fixed")):
        check_backend(backend, precision)
    with pytest.raises(ConfigError, match="--backend emulator"):
        check_backend("torch", "fixed")
    with pytest.raises(ConfigError, match="--backend torch"):
        check_backend("emulator", "float")
    with pytest.raises(ConfigError, match="unknown precision"):
        check_backend("lava", "double")
    with pytest.raises(ConfigError, match="batch 1"):
        check_backend("emulator", "fixed", batch=4)
    check_backend("torch", "float", batch=4)


def test_the_command_line_offers_exactly_the_backends_and_precisions():
    from neurovae.cli.main import build_parser
    from neurovae.sleep.on_chip import PRECISIONS
    from neurovae.sleep.run import BACKENDS

    sleep_parser = build_parser()._subparsers._group_actions[0].choices["sleep"]
    choices = {action.dest: tuple(action.choices) for action in sleep_parser._actions if action.choices}
    assert choices["backend"] == BACKENDS and choices["precision"] == PRECISIONS


def test_sleep_command_on_the_emulator(capsys, cvae_run):
    root, data = cvae_run
    argv = ["sleep", str(root / "run"), "--data", str(data), "--duration", "30", "--thresholds", "0.1", "0.1",
            "--input-rate", "500", "--no-progress"]
    assert main([*argv, "--backend", "emulator", "--out", str(root / "fixed")]) == 0
    summary = json.loads((root / "fixed" / "sleep.json").read_text())
    assert summary["backend"] == "emulator" and summary["precision"] == "fixed"
    assert summary["layers"][0]["on_chip"]["fixed_point"]["weight_exponent"] > 0
    assert summary["energy"]["precision"] == "fixed"
    assert main(["eval", str(root / "fixed"), "--data", str(data), "-n", "16", "--probe-images", "0",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main([*argv, "--backend", "torch", "--precision", "fixed", "--out", str(root / "bad")]) == 2
    error = capsys.readouterr().err.splitlines()
    assert len(error) == 1 and "--backend emulator" in error[0] and not (root / "bad").exists()


def test_the_demo_sleeps_a_cvae_in_fixed_point_on_a_small_folder(tmp_path, capsys, make_idx_folder):
    from neurovae.cli.demo import vae_sleep_in_fixed_point

    folder = make_idx_folder(n_train=64, n_test=16)
    vae_sleep_in_fixed_point(tmp_path, 30, str(folder), progress=False)
    summary = json.loads((tmp_path / "cvae-slept" / "sleep.json").read_text())
    assert summary["backend"] == "emulator" and summary["precision"] == "fixed"
    assert summary["sleep"]["duration"] == 30
    assert "dB after (16 images)" in capsys.readouterr().out
