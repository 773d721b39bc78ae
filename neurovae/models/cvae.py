"""CVAE of Talafha et al. 2020 (Table 1): the wake-phase model of VAE-sleep.

Encoder: ``4x4`` stride-2 convolutions (32 channels; MNIST/Fashion-MNIST 2 layers, CelebA 32-32-64-64), FC 256,
then the latent mean (FC) and standard deviation (FC + sigmoid). Decoder: the transpose (FC 256, FC to the last
feature map, transposed convolutions), whose output logits parameterize Bernoulli pixels. Every layer is ReLU
and bias-free, so that activations read as firing rates and the network converts to integrate-and-fire neurons
(Algorithm 1); ``bias: true`` gives every convolution and linear layer a bias, an ordinary conv VAE to compare
with, which sleep refuses. Images enter as intensities in [0, 1]; reconstructions leave in [-1, 1] like every
neurovae model.
Loss: Bernoulli log-likelihood (BCE summed over pixels) plus ``beta`` times the Gaussian KL, averaged per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neurovae.models.outputs import VAEOutput
from neurovae.registry import MODELS

KERNEL, STRIDE, PADDING = 4, 2, 1  # Table 1: 4x4 kernels, stride 2 (padding 1 halves the side exactly)


@dataclass
class CVAEConfig:
    """CVAE hyper-parameters (defaults: Talafha 2020 Tables 1-2, MNIST / Fashion-MNIST)."""

    in_channels: int = 1
    image_size: int = 28
    channels: tuple[int, ...] = (32, 32)
    hidden_dim: int = 256  # hidden-sz
    latent_dim: int = 200  # latent-sz
    beta: float = 2.0  # weight of the KL term
    bias: bool = False  # a bias in every conv / linear layer (an ordinary conv VAE; cannot be slept)

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        if not self.channels or self.image_size % 2 ** len(self.channels):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^{len(self.channels)} "
                             "(one halving per convolution)")
        if min(self.hidden_dim, self.latent_dim, self.in_channels, *self.channels) < 1:
            raise ValueError("channels, hidden_dim and latent_dim must be positive")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of the last convolution's output."""
        side = self.image_size // 2 ** len(self.channels)
        return self.channels[-1], side, side


@dataclass
class CVAEOutput(VAEOutput):
    """:class:`VAEOutput` (posterior / prior: ``[mean, std]`` concatenated, ``[N, 2 d]``) plus the pixel logits."""

    logits: torch.Tensor


def build_encoder(config: CVAEConfig) -> nn.Sequential:
    """Image intensities ``[N, C, H, W]`` -> hidden code ``[N, hidden_dim]`` (convs, FC, all ReLU, biased if asked)."""
    layers: list[nn.Module] = []
    in_ch = config.in_channels
    for out_ch in config.channels:
        layers += [nn.Conv2d(in_ch, out_ch, KERNEL, STRIDE, PADDING, bias=config.bias), nn.ReLU()]
        in_ch = out_ch
    features = config.feature_shape
    layers += [nn.Flatten(), nn.Linear(features[0] * features[1] * features[2], config.hidden_dim, bias=config.bias),
               nn.ReLU()]
    return nn.Sequential(*layers)


def build_decoder(config: CVAEConfig) -> nn.Sequential:
    """Latent ``[N, latent_dim]`` -> pixel logits ``[N, C, H, W]``: the encoder transposed."""
    features = config.feature_shape
    layers: list[nn.Module] = [
        nn.Linear(config.latent_dim, config.hidden_dim, bias=config.bias), nn.ReLU(),
        nn.Linear(config.hidden_dim, features[0] * features[1] * features[2], bias=config.bias), nn.ReLU(),
        nn.Unflatten(1, features),
    ]
    reverse = config.channels[::-1]
    for in_ch, out_ch in zip(reverse, (*reverse[1:], config.in_channels), strict=True):
        layers += [nn.ConvTranspose2d(in_ch, out_ch, KERNEL, STRIDE, PADDING, bias=config.bias), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # the last layer's logits parameterize Bernoulli pixels


def to_intensity(images: torch.Tensor) -> torch.Tensor:
    """Map [-1, 1] images to pixel intensities (and Bernoulli targets) in [0, 1]."""
    return (images + 1) / 2


def gaussian_kl(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, std^2) || N(0, 1))`` summed over latent dimensions, per image ``[N]``."""
    variance = std.pow(2)
    return 0.5 * (mean.pow(2) + variance - 1 - torch.log(variance + 1e-8)).sum(1)


def bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Negative Bernoulli log-likelihood of the intensities, summed over pixels, per image ``[N]``."""
    return F.binary_cross_entropy_with_logits(logits, to_intensity(images), reduction="none").flatten(1).sum(1)


@MODELS.register("cvae", CVAEConfig)
class CVAE(nn.Module):
    """Convolutional VAE with a Gaussian latent; see the module docstring."""

    spiking = False  # an ANN: it reaches spiking hardware by conversion (neurovae sleep), not as spiking stacks

    def __init__(self, config: CVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        self.mean = nn.Linear(config.hidden_dim, config.latent_dim, bias=config.bias)
        self.std = nn.Sequential(nn.Linear(config.hidden_dim, config.latent_dim, bias=config.bias), nn.Sigmoid())
        self.decoder = build_decoder(config)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and standard deviation ``[N, latent_dim]`` each."""
        hidden = self.encoder(to_intensity(images))
        return self.mean(hidden), self.std(hidden)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Images in (-1, 1) from latent codes ``[N, latent_dim]``: ``2 sigmoid(logits) - 1``."""
        return torch.tanh(self.decoder(latent) / 2)

    def forward(self, images: torch.Tensor) -> CVAEOutput:
        """Reconstruct through ``z = mean + std * eps`` (reparameterization) while training, the mean in eval mode."""
        mean, std = self.encode(images)
        latent = mean + std * torch.randn_like(std) if self.training else mean
        logits = self.decoder(latent)
        prior = torch.cat([torch.zeros_like(mean), torch.ones_like(std)], 1)
        return CVAEOutput(torch.tanh(logits / 2), torch.cat([mean, std], 1), prior, latent, logits)

    def loss(self, images: torch.Tensor, output: CVAEOutput) -> dict[str, torch.Tensor]:
        """Negative ELBO per image: Bernoulli NLL + beta KL (Table 2: beta = 2)."""
        nll = bernoulli_nll(output.logits, images).mean()
        kl = gaussian_kl(*output.posterior.chunk(2, 1)).mean()
        return {"loss": nll + self.config.beta * kl, "nll": nll, "kl": kl}

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images decoded from ``z ~ N(0, I)``."""
        device = self.mean.weight.device
        return self.decode(torch.randn(count, self.config.latent_dim, generator=generator, device=device))

    @torch.no_grad()
    def posterior_sample(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One posterior draw ``z = mean + std * eps`` per image (for the closest-of-K evaluation)."""
        mean, std = self.encode(images)
        return mean + std * torch.randn(std.shape, generator=generator, dtype=std.dtype, device=std.device)

    def latent_features(self, images: torch.Tensor) -> torch.Tensor:
        """Features for the linear probe: the posterior mean."""
        return self.encode(images)[0]

    def deployable_parts(self) -> dict:
        """None: a ReLU network is converted to integrate-and-fire neurons by :mod:`neurovae.sleep.convert`."""
        return {}

    def host_arrays(self, part: str) -> dict[str, torch.Tensor]:
        """Nothing runs on the host: no part is exported."""
        return {}
