"""Non-spiking baselines with the spiking models' architecture: a Gaussian VAE and a plain auto-encoder.

The ESVAE and FSVAE papers compare with an "ANN VAE of the same architecture" (Kamata et al. 2022; Zhan et al.
2024, Table I): encoder ``32C3-64C3-128C3-256C3`` (stride 2, batch norm, LeakyReLU) then a latent of 128,
decoder ``FC-256T3-128T3-64T3-32T3-32T3-C3`` mirrored, ``tanh`` output in [-1, 1]. ``ann_vae`` has a
Gaussian latent ``z = mu + sigma eps`` and the loss ``MSE + kl_weight KL(q(z|x) || N(0, I))``; ``ann_ae`` is
the same network with ``z = mu`` and the MSE alone. Neither runs on a neuromorphic target: they have no
deployable parts, and export refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neurovae.registry import MODELS


@dataclass
class ANNConfig:
    """Architecture of ESVAE's comparison ANN (same channels and latent as ESVAE) and the KL weight."""

    in_channels: int = 1
    image_size: int = 32
    channels: tuple[int, ...] = (32, 64, 128, 256)
    latent_dim: int = 128
    kl_weight: float = 0.00025  # not in the papers: the PyTorch-VAE vanilla VAE's weight (batch / dataset size)

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        if self.image_size % 2 ** len(self.channels):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^{len(self.channels)}")
        if self.latent_dim < 1 or self.kl_weight < 0:
            raise ValueError("latent_dim must be positive and kl_weight >= 0")


@dataclass
class ANNOutput:
    """Forward pass of a baseline: reconstruction ``[N, C, H, W]``, ``mu``/``logvar`` ``[N, d]``, latent ``z``."""

    reconstruction: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    latent: torch.Tensor


def _unit(layer: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(layer, nn.BatchNorm2d(channels), nn.LeakyReLU())


class ConvAutoEncoder(nn.Module):
    """The shared network: image -> ``(mu, logvar)``, latent -> image; subclasses pick ``z`` and the loss."""

    variational = False

    def __init__(self, config: ANNConfig) -> None:
        super().__init__()
        self.config = config
        side = config.image_size // 2 ** len(config.channels)
        encoder, in_ch = [], config.in_channels
        for out_ch in config.channels:
            encoder.append(_unit(nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), out_ch))
            in_ch = out_ch
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        flat = in_ch * side * side
        self.to_latent = nn.Linear(flat, config.latent_dim * (2 if self.variational else 1))
        rev = config.channels[::-1]
        decoder: list[nn.Module] = [nn.Linear(config.latent_dim, flat), nn.Unflatten(1, (rev[0], side, side))]
        for c_in, c_out in zip(rev, (*rev[1:], rev[-1]), strict=True):
            decoder.append(_unit(nn.ConvTranspose2d(c_in, c_out, 3, 2, padding=1, output_padding=1), c_out))
        decoder += [nn.Conv2d(rev[-1], config.in_channels, 3, padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*decoder)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` ``[N, d]`` (``logvar`` zero for the plain auto-encoder)."""
        out = self.to_latent(self.encoder(images))
        if self.variational:
            mu, logvar = out.chunk(2, dim=1)
            return mu, logvar
        return out, torch.zeros_like(out)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Images in (-1, 1) from latents ``[N, d]``."""
        return self.decoder(latent)

    def forward(self, images: torch.Tensor) -> ANNOutput:
        """Reconstruct ``images``; a VAE samples ``z = mu + sigma eps`` while training, takes ``mu`` in eval."""
        mu, logvar = self.encode(images)
        latent = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.variational and self.training else mu
        return ANNOutput(self.decode(latent), mu, logvar, latent)

    def loss(self, images: torch.Tensor, output: ANNOutput) -> dict[str, torch.Tensor]:
        """Reconstruction MSE (on [-1, 1]), plus the weighted KL for a VAE."""
        mse = F.mse_loss(output.reconstruction, images)
        if not self.variational:
            return {"loss": mse, "mse": mse}
        kl = (-0.5 * (1 + output.logvar - output.mu.pow(2) - output.logvar.exp()).sum(1)).mean()
        return {"loss": mse + self.config.kl_weight * kl, "mse": mse, "kl": kl}

    def latent_features(self, images: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``mu`` ``[N, d]``."""
        return self.encode(images)[0]


@MODELS.register("ann_ae", ANNConfig)
class ANNAutoEncoder(ConvAutoEncoder):
    """Plain convolutional auto-encoder (ReLU-family, batch norm) with the spiking VAEs' architecture."""


@MODELS.register("ann_vae", ANNConfig)
class ANNVAE(ConvAutoEncoder):
    """Gaussian VAE with the spiking VAEs' architecture (their papers' "ANN" column)."""

    variational = True

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images decoded from ``z ~ N(0, I)``."""
        device = self.to_latent.weight.device
        return self.decode(torch.randn(count, self.config.latent_dim, generator=generator, device=device))
