"""VAE-sleep on Lava's learning engine against PyTorch: same input spikes, same weights.

Floating point: Lava against the batched PyTorch sleep (to 1e-12 on dense layers). Fixed point: Lava's
``fixed_pt`` learning engine against neurovae's emulator of it, bit for bit, on dense layers and on lowered
convolutions (whose entries without a synapse must not learn).
"""

import dataclasses

import numpy as np
import pytest
import torch

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed")

from neurovae.sleep.convert import SleepLayer  # noqa: E402
from neurovae.sleep.fixed_point import FixedPointRule  # noqa: E402
from neurovae.sleep.lava_sleep import run_lava_sleep  # noqa: E402
from neurovae.sleep.on_chip import conv_as_dense, emulate_fixed, lower, tie_back  # noqa: E402
from neurovae.sleep.stdp import MirroredSTDP, conv_pairs  # noqa: E402
from neurovae.sleep.vae_sleep import VAESleepConfig, input_spikes, sleep_torch  # noqa: E402

pytestmark = pytest.mark.lava


def _dense_layer(n_out, n_in, seed):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.rand(n_out, n_in, 1, 1, generator=generator, dtype=torch.float64) * 0.8
    mirror = torch.rand(n_out, n_in, 1, 1, generator=generator, dtype=torch.float64) * 0.8 - 0.2
    return SleepLayer(f"enc{seed}", f"dec{seed}", weight, mirror, stride=1, padding=0)


def _conv_layers():
    """Two 4x4 stride-2 convolutions 1x8x8 -> 3x4x4 -> 4x2x2 with mixed-sign weights and decoder mirrors."""
    generator = torch.Generator().manual_seed(0)

    def weights(shape):
        return torch.rand(shape, generator=generator, dtype=torch.float64) * 0.6 - 0.2

    return [SleepLayer("enc0", "dec0", weights((3, 1, 4, 4)), weights((3, 1, 4, 4)), stride=2, padding=1),
            SleepLayer("enc1", "dec1", weights((4, 3, 4, 4)), weights((4, 3, 4, 4)), stride=2, padding=1)]


DENSE_CONFIG = VAESleepConfig(input_rate_hz=500, duration=12, thresholds=(0.5, 0.4), ampa_scale=1.0,
                              a_ltp=0.25, a_ltd=0.125, w_lb=-1.5, w_ub=2.0, seed=3)
CONV_CONFIG = VAESleepConfig(input_rate_hz=500, duration=60, thresholds=(0.8, 0.8), ampa_scale=1.0,
                             a_ltp=0.05, a_ltd=0.03, seed=3)


def _intensities(shape):
    return torch.rand(5, *shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _spikes(config, shape):
    return torch.cat(list(input_spikes(_intensities(shape), config)))


@pytest.mark.parametrize("leak", [0.0, 0.25])
def test_lava_and_torch_sleep_change_the_weights_identically(leak):
    """Two dense layers (1x1 convolutions) 6 -> 4 -> 3 with decoder mirrors, 12 steps, floating point."""
    config = dataclasses.replace(DENSE_CONFIG, leak=leak)
    layers = [_dense_layer(4, 6, 0), _dense_layer(3, 4, 1)]
    spikes = _spikes(config, (6, 1, 1))
    device = lower(layers, (6, 1, 1), config.effective_thresholds(layers), config.rule, "float", leak)
    assert all(chip.forward.tags is None for chip in device), "1x1 convolutions lower to full connections"

    rates = sleep_torch(layers, _intensities((6, 1, 1)), config)
    forward, mirrors, lava_rates = run_lava_sleep(device, spikes.flatten(1).numpy())

    assert min(rates) > 0.1, "both layers must fire for the comparison to mean something"
    assert lava_rates == pytest.approx(rates, abs=1e-12)
    for layer, chip, lava_w, lava_m in zip(layers, device, forward, mirrors, strict=True):
        assert np.abs(lava_w - chip.forward.weights).max() * chip.unit > 1e-3, "sleep must move the weights"
        np.testing.assert_allclose(lava_w * chip.unit, layer.weight[..., 0, 0].numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(lava_m * chip.unit, layer.mirror_weight[..., 0, 0].numpy().T, rtol=0, atol=1e-12)


def test_a_convolution_lowered_to_dense_and_tied_back_equals_one_conv_step():
    generator = torch.Generator().manual_seed(0)
    layer = SleepLayer("enc", "dec", torch.rand(2, 1, 4, 4, generator=generator, dtype=torch.float64),
                       torch.zeros(2, 1, 4, 4, dtype=torch.float64), stride=2, padding=1)
    dense, taps = conv_as_dense(layer, (1, 6, 6))
    image = torch.rand(1, 1, 6, 6, generator=generator, dtype=torch.float64)
    expected = torch.nn.functional.conv2d(image, layer.weight, stride=2, padding=1).reshape(-1).numpy()
    np.testing.assert_allclose(dense @ image.reshape(-1).numpy(), expected, atol=1e-12)

    pre = (torch.rand(1, 1, 6, 6, generator=generator) < 0.5).double()
    post = (torch.rand(1, 2, 3, 3, generator=generator) < 0.5).double()
    config = VAESleepConfig(a_ltp=0.25, a_ltd=0.125)
    both_dense = np.outer(post.reshape(-1), pre.reshape(-1))
    post_only_dense = np.outer(post.reshape(-1), 1 - pre.reshape(-1))
    stabilizer = (dense - config.w_lb) * (config.w_ub - dense)
    after = dense + np.where(taps >= 0, stabilizer * (0.25 * both_dense - 0.125 * post_only_dense), 0)
    tied = tie_back(layer.weight, dense, after, taps)
    both, post_only = conv_pairs(pre, post, layer.weight.shape, 2, 1)
    torch.testing.assert_close(tied, layer.weight + config.rule.delta(layer.weight, both, post_only),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", ["dense", "conv", "leaky conv"])
def test_lava_fixed_point_sleep_equals_the_emulator_bit_for_bit(case):
    """Lava ``fixed_pt`` (8-bit weights, stochastic rounding) and :func:`emulate_fixed`: identical integer weights.

    The convolutions' lowered matrices are mostly entries without a synapse; their tags keep them at 0. The leaky
    neurons lose 410/4096 of their voltage every step."""
    config, layers, shape = ((DENSE_CONFIG, [_dense_layer(4, 6, 0), _dense_layer(3, 4, 1)], (6, 1, 1))
                             if case == "dense" else (CONV_CONFIG, _conv_layers(), (1, 8, 8)))
    if case == "leaky conv":
        config = dataclasses.replace(config, leak=0.1, thresholds=(0.5, 0.5))
    spikes = _spikes(config, shape).flatten(1)
    device = lower(layers, shape, config.effective_thresholds(layers), config.rule, "fixed", config.leak)
    assert [chip.decay for chip in device] == [round(config.leak * 4096)] * 2

    emulated, emulated_mirrors, rates = emulate_fixed(device, spikes)
    forward, mirrors, lava_rates = run_lava_sleep(device, spikes.numpy())

    assert min(rates) > 0.05, "both layers must fire for the comparison to mean something"
    assert lava_rates == pytest.approx(rates, abs=1e-12)
    for chip, lava_w, lava_m, emu_w, emu_m in zip(device, forward, mirrors, emulated, emulated_mirrors, strict=True):
        assert np.abs(emu_w - chip.forward.weights).sum() > 100, "sleep must move the weights"
        np.testing.assert_array_equal(lava_w, emu_w)
        np.testing.assert_array_equal(lava_m, emu_m)
        if case == "conv":
            assert chip.forward.tags is not None
            assert not lava_w[chip.taps < 0].any() and not lava_m.T[chip.taps < 0].any(), "non-synapses learnt"


def test_our_fixed_point_rule_is_the_rule_lava_parses():
    """The products the emulator evaluates equal Lava's parse of the dw strings it is given."""
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule

    for tagged in (False, True):
        rule = FixedPointRule.for_weights(MirroredSTDP(0.0063, 0.0069, -1.0, 1.0), 0.8, tagged=tagged)
        for feedback in (False, True):
            parsed = Loihi2FLearningRule(dw=rule.dw(feedback), x1_impulse=1, x1_tau=1, y1_impulse=1, y1_tau=1)
            lava = [(p.dependency, p.s_mantissa, p.s_exp, [(f.state_var, f.const or 0) for f in p.factors])
                    for p in parsed.active_product_series["dw"].products]
            ours = [(p.dependency, p.mantissa, p.exponent + 7, [(name, c) for name, c in p.factors])
                    for p in rule.products(feedback)]
            assert lava == ours


def test_a_cvae_sleeps_on_lava_like_the_batched_sleep():
    """The whole path on a tiny CVAE: convolutions lowered on Lava, tied back, against the conv sleep.

    Lava learns each position's synapse separately and tie-back averages them afterwards, while the batched sleep
    averages every step: they agree to second order in the step sizes, not bit for bit. The run is short because
    the model is float32 and Lava float64: over longer runs a voltage at the threshold eventually flips a spike."""
    from neurovae.models.cvae import CVAE, CVAEConfig
    from neurovae.sleep.run import sleep_model, table3_config

    torch.manual_seed(0)
    model = CVAE(CVAEConfig(image_size=8, channels=(4, 8), hidden_dim=16, latent_dim=4))
    images = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    config = table3_config("fashion_mnist", duration=3, input_rate_hz=500.0,
                           thresholds=(0.02, 0.02), a_ltp=2.0**-12, a_ltd=2.0**-13)
    on_lava, lava_summary = sleep_model(model, images, config, backend="lava")
    on_torch, _ = sleep_model(model, images, config, backend="torch")
    for name in ("encoder.0", "encoder.2", "decoder.5", "decoder.7"):
        start = model.get_submodule(name).weight
        lava_change = on_lava.get_submodule(name).weight - start
        torch_change = on_torch.get_submodule(name).weight - start
        assert torch_change.abs().max() > 1e-5, f"{name} must change during sleep"
        assert (lava_change - torch_change).abs().max() < 1e-3 * torch_change.abs().max(), name
    assert lava_summary["backend"] == "lava"


def test_a_cvae_sleeps_in_fixed_point_on_lava_exactly_as_emulated():
    """``sleep_model`` on Lava ``fixed_pt`` and on the emulator give the same slept CVAE, weight for weight."""
    from neurovae.models.cvae import CVAE, CVAEConfig
    from neurovae.sleep.run import sleep_model, table3_config

    torch.manual_seed(0)
    model = CVAE(CVAEConfig(image_size=8, channels=(4, 8), hidden_dim=16, latent_dim=4))
    images = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    config = table3_config("fashion_mnist", duration=40, input_rate_hz=500.0, thresholds=(0.05, 0.05),
                           a_ltp=0.02, a_ltd=0.01)
    notices, steps = [], []
    on_lava, lava_summary = sleep_model(model, images, config, backend="lava", precision="fixed",
                                        progress=lambda: steps.append(1), notice=notices.append)
    emulated, emulated_summary = sleep_model(model, images, config, backend="emulator", precision="fixed")
    assert len(steps) == 40 and len(notices) == 1 and "40 steps x 2 layers" in notices[0]
    assert [layer["firing_rate"] for layer in lava_summary["layers"]] == \
        pytest.approx([layer["firing_rate"] for layer in emulated_summary["layers"]], abs=1e-12)
    for name in ("encoder.0", "encoder.2", "decoder.5", "decoder.7"):
        change = emulated.get_submodule(name).weight - model.get_submodule(name).weight
        assert change.abs().max() > 1e-3, f"{name} must change during sleep"
        torch.testing.assert_close(on_lava.get_submodule(name).weight, emulated.get_submodule(name).weight,
                                   rtol=0, atol=0)
    assert lava_summary["precision"] == emulated_summary["precision"] == "fixed"
    assert emulated_summary["layers"][0]["on_chip"]["fixed_point"]["weight_exponent"] > 0
