"""The VAE-sleep evaluation: metrics on clean / noisy latent codes and the paper's closest-of-K samples."""

from __future__ import annotations

import pytest
import torch

from neurovae.errors import ConfigError
from neurovae.evaluate.latent_noise import closest_sample_metrics, noisy_metrics
from neurovae.models.cvae import CVAE, CVAEConfig
from neurovae.models.vsc import VSC, VSCConfig

SMALL = {"image_size": 8, "channels": (4, 4), "hidden_dim": 16, "latent_dim": 6}


def _images(count: int = 24) -> torch.Tensor:
    return torch.rand(count, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_more_samples_never_move_the_closest_sample_away() -> None:
    torch.manual_seed(0)
    model, images = CVAE(CVAEConfig(**SMALL)).eval(), _images()
    one = closest_sample_metrics(model, images, samples=1, seed=3)
    many = closest_sample_metrics(model, images, samples=8, seed=3)
    # the first of the 8 draws is the single draw, so every image's closest sample can only get closer
    assert many["psnr_closest_clean"] > one["psnr_closest_clean"]
    assert many["psnr_closest_noisy"] > one["psnr_closest_noisy"]


class _NoSpread(torch.nn.Module):
    """A posterior std head that is always 0: every draw is the posterior mean."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(hidden), SMALL["latent_dim"])


def test_closest_sample_of_a_certain_posterior_is_the_mean_reconstruction() -> None:
    torch.manual_seed(0)
    model, images = CVAE(CVAEConfig(**SMALL)).eval(), _images()
    model.std = _NoSpread()
    codes = {"images": images, "codes": model.encode(images)[0], "labels": torch.arange(len(images)) % 3}
    clean = noisy_metrics(model, codes, codes)
    closest = closest_sample_metrics(model, images, samples=4)
    assert closest["psnr_closest_clean"] == pytest.approx(clean["psnr_clean"], abs=1e-9)
    assert closest["ssim_closest_clean"] == pytest.approx(clean["ssim_clean"], abs=1e-9)


def test_vsc_posterior_samples_are_spike_and_slab() -> None:
    torch.manual_seed(0)
    model = VSC(VSCConfig(**SMALL)).eval()
    draws = torch.stack([model.posterior_sample(_images(), torch.Generator().manual_seed(s)) for s in range(50)])
    spike = model.encode(_images())[2]
    torch.testing.assert_close((draws != 0).double().mean(0), spike.double(), atol=0.25, rtol=0)
    with pytest.raises(ConfigError, match="at least one sample"):
        closest_sample_metrics(model, _images(), samples=0)


class _Decoder(torch.nn.Module):
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(codes), 1, 8, 8)


def test_the_noisy_probe_reads_the_information_that_survives_the_noise() -> None:
    """Two informative latent dimensions (classes 6 standard deviations of the noise apart) and 30 collapsed ones.

    Fitted on clean codes, the probe's standardization would blow the noise of the collapsed dimensions up and it
    would guess; fitted on noisy codes, it reads the two informative ones."""
    generator = torch.Generator().manual_seed(0)

    def codes(count):
        labels = torch.arange(count) % 2
        informative = (labels * 6.0 - 3.0).unsqueeze(1).repeat(1, 2)
        collapsed = 1e-3 * torch.randn(count, 30, generator=generator)
        return {"images": torch.zeros(count, 1, 8, 8), "codes": torch.cat([informative, collapsed], 1),
                "labels": labels}

    metrics = noisy_metrics(_Decoder(), codes(400), codes(200))
    assert metrics["probe_clean"] == 1.0
    assert metrics["probe_noisy"] > 0.95
