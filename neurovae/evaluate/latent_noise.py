"""Robustness to noisy encodings (Talafha et al. 2020, Sec. 4): Gaussian noise on the latent codes.

The noise is added before decoding and before the linear probe; the clean numbers are measured beside it.
The code is what the decoder reads in eval mode (``model(images).latent``: the CVAE's posterior mean, VSC's
expected code ``gamma * mean``); "noisy" adds ``noise_std * N(0, I)`` to it, with a seeded generator. The noisy
probe is fitted on noisy training codes: one fitted on clean codes scales each dimension by its clean spread,
so the dimensions a VAE's posterior collapsed (spread near 0) blow the noise up, and every model lands near
chance (10-17 % on Fashion-MNIST), which says nothing about how much class information survives the noise.
The paper itself reports "the average PSNR, SSIM and LPIPS of the closest samples to the ground truth for each
test image": :func:`closest_sample_metrics` draws K posterior samples per image and keeps the closest.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from neurovae.errors import ConfigError
from neurovae.evaluate.probe import linear_probe_accuracy
from neurovae.evaluate.psnr_variants import psnr_variants
from neurovae.evaluate.quality import psnr, ssim


@torch.no_grad()
def latent_codes(model: nn.Module, dataset: Dataset, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Images, eval-mode latent codes and labels of a whole dataset."""
    model.eval()
    out: dict[str, list[torch.Tensor]] = {"images": [], "codes": [], "labels": []}
    for images, labels in DataLoader(dataset, batch_size=batch_size):
        out["images"].append(images)
        out["codes"].append(model(images).latent)
        out["labels"].append(torch.as_tensor(labels))
    return {key: torch.cat(value) for key, value in out.items()}


def with_noise(codes: torch.Tensor, noise_std: float, seed: int) -> torch.Tensor:
    """``codes + noise_std * N(0, I)`` (seeded); ``noise_std = 0`` returns the codes."""
    if noise_std == 0:
        return codes
    generator = torch.Generator().manual_seed(seed)
    return codes + noise_std * torch.randn(codes.shape, generator=generator, dtype=codes.dtype)


@torch.no_grad()
def noisy_metrics(model: nn.Module, train: dict[str, torch.Tensor], test: dict[str, torch.Tensor],
                  noise_std: float = 1.0, seed: int = 0) -> dict[str, float]:
    """PSNR, SSIM and linear-probe accuracy on clean and on noisy test codes.

    Each probe is fitted on training codes with the same noise as the test codes it reads. Beside the standard
    PSNR (per image), ``psnr_<definition>_<per_image|dataset>_<clean|noisy>`` give the readings of VAE-sleep's
    paper (:mod:`neurovae.evaluate.psnr_variants`).

    Args:
        model: a model with ``decode(codes)``.
        train: :func:`latent_codes` of the probe's training images.
        test: :func:`latent_codes` of the test images.
        noise_std: standard deviation of the Gaussian noise (the paper: standard normal, 1).
        seed: seed of the test codes' noise (the training codes' noise uses ``seed + 1``).
    """
    metrics: dict[str, float] = {}
    for name, std in (("clean", 0.0), ("noisy", noise_std)):
        codes = with_noise(test["codes"], std, seed)
        reconstructions = model.decode(codes)
        metrics[f"psnr_{name}"] = psnr(reconstructions, test["images"])
        metrics |= {f"psnr_{key}_{name}": value for key, value in psnr_variants(reconstructions, test["images"]).items()
                    if key != "standard_per_image"}
        metrics[f"ssim_{name}"] = ssim(reconstructions, test["images"])
        metrics[f"probe_{name}"] = linear_probe_accuracy(with_noise(train["codes"], std, seed + 1), train["labels"],
                                                         codes, test["labels"], seed=seed)
    return metrics


@torch.no_grad()
def closest_sample_metrics(model: nn.Module, images: torch.Tensor, samples: int, noise_std: float = 1.0,
                           seed: int = 0, batch_size: int = 1000) -> dict[str, float]:
    """PSNR and SSIM of the closest (lowest-MSE) of ``samples`` posterior draws per image, clean and noisy.

    Each draw is ``model.posterior_sample(images)`` (plus ``noise_std * N(0, I)`` for "noisy"), decoded; the
    paper does not say how many samples it drew, so ``samples`` is the caller's choice.
    """
    if samples < 1:
        raise ConfigError(f"closest-sample evaluation needs at least one sample per image, got {samples}")
    model.eval()
    metrics: dict[str, float] = {}
    for offset, (name, std) in enumerate((("clean", 0.0), ("noisy", noise_std))):
        generator = torch.Generator().manual_seed(seed + offset)
        closest = []
        for batch in images.split(batch_size):
            best, best_error = torch.empty_like(batch), torch.full((len(batch),), math.inf)
            for _ in range(samples):
                reconstruction = model.decode(with_noise(model.posterior_sample(batch, generator), std,
                                                         int(torch.randint(2**31, (1,), generator=generator))))
                error = (reconstruction - batch).pow(2).flatten(1).mean(1)
                closer = error < best_error
                best[closer], best_error[closer] = reconstruction[closer], error[closer]
            closest.append(best)
        closest_images = torch.cat(closest)
        metrics[f"psnr_closest_{name}"] = psnr(closest_images, images)
        metrics[f"ssim_closest_{name}"] = ssim(closest_images, images)
    return metrics
