"""Export -> Lava parity for a tiny FSVAE: every layer, every step; and the whole flow with host-side sampling.

A tiny FSVAE (float64, trained-looking tdBN statistics) is exported; its encoder and decoder run in Lava
``floating_pt`` and their spikes must equal PyTorch's at every layer and step (helpers of
``test_esvae_lava.py``). The deployed flow - encoder in Lava -> autoregressive Bernoulli sampling on the host from
the file's folded posterior MLP -> decoder in Lava - must give the latent spikes that the PyTorch model samples
with the same candidate choices, and the same images.
"""

import numpy as np
import pytest
import torch

from neurovae.export import export_model
from neurovae.models.fsvae import FSVAE, FSVAEConfig
from neurovae.netx import read_netx, write_netx

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")
from test_esvae_lava import compare_spikes, layer_outputs, randomize_norms  # noqa: E402

from neurovae.simulate import run_lava  # noqa: E402
from neurovae.simulate.host import pad_latency, posterior_spikes, prior_spikes  # noqa: E402

CONFIG = FSVAEConfig(in_channels=1, image_size=8, channels=(4, 6), latent_dim=6, steps=6, candidates=4)


def trained_like_fsvae(seed: int) -> FSVAE:
    """A tiny float64 FSVAE in eval mode whose encoder, decoder and sampler MLPs all fire."""
    torch.manual_seed(seed)
    model = randomize_norms(FSVAE(CONFIG).double())
    with torch.no_grad():
        for net in (model.posterior, model.prior):
            for layer in net.layers:
                layer.norm.running_var.uniform_(0.05, 0.3)
                layer.norm.bias.uniform_(0.0, 0.3)
    return model.eval()


def exported(model: FSVAE, part: str, folder) -> object:
    """``part`` written to netx and read back (what ``neurovae export`` and ``neurovae run`` do)."""
    write_netx(export_model(model, part), folder / f"{part}.net")
    return read_netx(folder / f"{part}.net")


def test_fsvae_encoder_and_decoder_equal_lava_float_and_the_host_samples_the_same_latent(tmp_path):
    model = trained_like_fsvae(0)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand((3, 1, 8, 8), generator=generator, dtype=torch.float64) * 2 - 1
    encoder_net, decoder_net = exported(model, "encoder", tmp_path), exported(model, "decoder", tmp_path)

    held = images.unsqueeze(0).expand(CONFIG.steps + model.encoder.latency, *images.shape)
    with torch.no_grad():
        torch_enc = layer_outputs(model.encoder, held)
    encoded = run_lava(encoder_net, images.numpy(), precision="float", steps=held.shape[0], progress=False)
    spikes_compared = compare_spikes(encoder_net, encoded, torch_enc)

    latent = posterior_spikes(encoder_net, decoder_net, encoded, np.random.default_rng(7))  # the host's part
    choice = torch.from_numpy(np.random.default_rng(7).integers(CONFIG.candidates, size=(CONFIG.steps, 3, 6)))
    torch_latent = model.posterior.sample(model.encode(images), choice)
    np.testing.assert_array_equal(latent[..., :CONFIG.steps], torch_latent.permute(1, 2, 0).numpy())
    assert 0 < latent.mean() < 1, "the sampler should fire"

    decoded = run_lava(decoder_net, latent, precision="float", progress=False)
    silence = torch.zeros(model.decoder.latency, 3, CONFIG.latent_dim, dtype=torch.float64)
    with torch.no_grad():
        torch_dec = layer_outputs(model.decoder, torch.cat([torch_latent, silence]))
        torch_images = model.decode(torch_latent)
    spikes_compared += compare_spikes(decoder_net, decoded, torch_dec)
    assert spikes_compared > 100, "the test model should spike"
    lava_images = np.tanh(decoded.readout_voltage / decoder_net.weight_scale)
    np.testing.assert_allclose(lava_images, torch_images.numpy(), atol=1e-9)


def test_prior_input_of_an_fsvae_decoder_file_is_the_models_prior_sampling(tmp_path):
    model = trained_like_fsvae(1)
    decoder_net = exported(model, "decoder", tmp_path)
    host = prior_spikes(decoder_net, count=5, seed=3)
    choice = torch.from_numpy(np.random.default_rng(3).integers(CONFIG.candidates, size=(CONFIG.steps, 5, 6)))
    expected = model.prior.sample(None, choice).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(host, pad_latency(decoder_net, expected))
    assert 0 < expected.mean() < 1
