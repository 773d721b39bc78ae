"""VAE-sleep on Lava's learning engine against the batched PyTorch sleep: same input spikes, same weights."""

import numpy as np
import pytest
import torch

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed")

from neurovae.sleep.convert import SleepLayer  # noqa: E402
from neurovae.sleep.lava_sleep import conv_as_dense, run_lava_sleep, tie_back  # noqa: E402
from neurovae.sleep.stdp import conv_pairs  # noqa: E402
from neurovae.sleep.vae_sleep import VAESleepConfig, input_spikes, sleep_step, sleep_torch  # noqa: E402

pytestmark = pytest.mark.lava


def _dense_layer(n_out, n_in, seed):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.rand(n_out, n_in, 1, 1, generator=generator, dtype=torch.float64) * 0.8
    mirror = torch.rand(n_out, n_in, 1, 1, generator=generator, dtype=torch.float64) * 0.8 - 0.2
    return SleepLayer(f"enc{seed}", f"dec{seed}", weight, mirror, stride=1, padding=0)


def test_lava_and_torch_sleep_change_the_weights_identically():
    """Two dense layers (1x1 convolutions) 6 -> 4 -> 3 with decoder mirrors, 12 steps, floating point."""
    config = VAESleepConfig(input_rate_hz=500, duration=12, thresholds=(0.5, 0.4), ampa_scale=1.0,
                            a_ltp=0.25, a_ltd=0.125, w_lb=-1.5, w_ub=2.0, seed=3)
    intensities = torch.rand(5, 6, 1, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    layers = [_dense_layer(4, 6, 0), _dense_layer(3, 4, 1)]
    start = [(layer.weight[..., 0, 0].numpy().copy(), layer.mirror_weight[..., 0, 0].numpy().T.copy())
             for layer in layers]
    spikes = torch.cat(list(input_spikes(intensities, config)))[:, :, 0, 0].numpy()
    thresholds = config.effective_thresholds(layers)

    rates = sleep_torch(layers, intensities, config)
    forward, mirrors = run_lava_sleep([w for w, _ in start], [m for _, m in start], spikes, thresholds, config.rule)

    assert min(rates) > 0.1, "both layers must fire for the comparison to mean something"
    for layer, lava_w, lava_m, (w0, _) in zip(layers, forward, mirrors, start, strict=True):
        assert np.abs(lava_w - w0).max() > 1e-3, "sleep must move the weights"
        np.testing.assert_allclose(lava_w, layer.weight[..., 0, 0].numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(lava_m, layer.mirror_weight[..., 0, 0].numpy().T, rtol=0, atol=1e-12)


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
    assert sleep_step  # the same update sleep_step applies each step


def test_a_cvae_sleeps_on_lava_like_the_batched_sleep():
    """The whole path on a tiny CVAE: convolutions lowered to dense on Lava, tied back, against the conv sleep.

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
