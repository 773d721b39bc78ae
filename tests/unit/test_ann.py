"""The non-spiking baselines: the VAE's KL term by hand, the plain AE's deterministic latent, and export refusal."""

import pytest
import torch

from neurovae.export import ExportError, export_model
from neurovae.models.ann import ANNVAE, ANNAutoEncoder, ANNConfig, ANNOutput

TINY = ANNConfig(image_size=8, channels=(4, 8), latent_dim=3, kl_weight=0.5)


def test_vae_loss_is_mse_plus_weighted_kl_by_hand():
    model = ANNVAE(TINY)
    images = torch.zeros(2, 1, 8, 8)
    mu = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    output = ANNOutput(torch.full_like(images, 0.5), mu, logvar, mu)
    # KL per image: 0.5 * sum(mu^2 + e^logvar - 1 - logvar) = 0.5 and 0.5 * (e^2 - 3)
    kl = (0.5 + 0.5 * (torch.e**2 - 3)) / 2
    losses = model.loss(images, output)
    assert losses["kl"].item() == pytest.approx(kl)
    assert losses["loss"].item() == pytest.approx(0.25 + 0.5 * kl)


def test_plain_ae_latent_is_deterministic_and_has_no_sampling():
    torch.manual_seed(0)
    model = ANNAutoEncoder(TINY).train()
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    first, second = model(images), model(images)
    assert torch.equal(first.latent, second.latent) and not hasattr(model, "sample")
    assert set(model.loss(images, first)) == {"loss", "mse"}


@pytest.mark.parametrize("model_class", [ANNVAE, ANNAutoEncoder])
def test_export_refuses_a_non_spiking_baseline(model_class):
    with pytest.raises(ExportError, match="not a spiking network"):
        export_model(model_class(TINY), "decoder")
