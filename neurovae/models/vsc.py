r"""Variational sparse coding (Tonolini et al. 2020), built like the CVAE: the VSC baseline of Talafha 2020.

The latent has a spike-and-slab prior ``p(z) = prod_j (alpha N(z_j; 0, 1) + (1 - alpha) delta(z_j))`` (eq. 3);
the encoder adds spike probabilities ``gamma`` to the CVAE's mean and std (eq. 4). Sampling stays
reparameterizable with a steep sigmoid for the spike: ``z = sigmoid(c (eta + gamma - 1)) (mean + std eps)``,
``eta ~ U(0, 1)``, where ``c`` grows by ``c_step`` per training iteration (Table 2: c = 50, dc = 1e-3). Loss:
Bernoulli NLL + beta (the slab KL weighted by gamma + the spike KL against alpha). The pseudo-input
recognition term of eq. 5 is not used: Talafha's Table 2 lists no pseudo-inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neurovae.models.cvae import CVAEConfig, CVAEOutput, bernoulli_nll, build_decoder, build_encoder, to_intensity
from neurovae.registry import MODELS

SPIKE_EPS = 1e-6  # keeps log(gamma) and log(1 - gamma) finite


@dataclass
class VSCConfig(CVAEConfig):
    """CVAE hyper-parameters plus the spike-and-slab prior (Talafha 2020, Table 2)."""

    alpha: float = 0.01  # prior spike probability
    c: float = 50.0  # steepness of the spike's sigmoid relaxation
    c_step: float = 1e-3  # increase of c per training iteration

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha (prior spike probability) must be in (0, 1), got {self.alpha}")
        if self.c <= 0 or self.c_step < 0:
            raise ValueError(f"c must be positive and c_step >= 0, got c {self.c}, c_step {self.c_step}")


def spike_slab_kl(mean: torch.Tensor, std: torch.Tensor, spike: torch.Tensor, alpha: float) -> torch.Tensor:
    """KL of the spike-and-slab posterior from the prior, per image ``[N]``: slab part + spike part (eq. 5)."""
    variance = std.pow(2)
    slab = 0.5 * (spike * (mean.pow(2) + variance - 1 - torch.log(variance + 1e-8))).sum(1)
    spikes = (spike * torch.log(spike / alpha) + (1 - spike) * torch.log((1 - spike) / (1 - alpha))).sum(1)
    return slab + spikes


@MODELS.register("vsc", VSCConfig)
class VSC(nn.Module):
    """Variational sparse coding with the CVAE's encoder and decoder; see the module docstring."""

    spiking = False

    def __init__(self, config: VSCConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        self.mean = nn.Linear(config.hidden_dim, config.latent_dim, bias=config.bias)
        self.std = nn.Sequential(nn.Linear(config.hidden_dim, config.latent_dim, bias=config.bias), nn.Sigmoid())
        self.spike = nn.Sequential(nn.Linear(config.hidden_dim, config.latent_dim, bias=config.bias), nn.Sigmoid())
        self.decoder = build_decoder(config)
        self.register_buffer("iterations", torch.zeros((), dtype=torch.long))

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Posterior mean, std and spike probability ``gamma``, ``[N, latent_dim]`` each."""
        hidden = self.encoder(to_intensity(images))
        return self.mean(hidden), self.std(hidden), self.spike(hidden).clamp(SPIKE_EPS, 1 - SPIKE_EPS)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Images in (-1, 1) from latent codes."""
        return torch.tanh(self.decoder(latent) / 2)

    def steepness(self) -> float:
        """The current ``c``: Table 2's 50 plus ``c_step`` per training iteration so far."""
        return self.config.c + self.config.c_step * float(self.iterations)

    def forward(self, images: torch.Tensor) -> CVAEOutput:
        """Sample ``z`` (training) or take its expectation ``gamma * mean`` (eval)."""
        mean, std, spike = self.encode(images)
        if self.training:
            selection = torch.sigmoid(self.steepness() * (torch.rand_like(spike) + spike - 1))
            latent = selection * (mean + std * torch.randn_like(std))
            self.iterations += 1
        else:
            latent = spike * mean
        logits = self.decoder(latent)
        alpha = torch.full_like(spike, self.config.alpha)
        prior = torch.cat([torch.zeros_like(mean), torch.ones_like(std), alpha], 1)
        return CVAEOutput(torch.tanh(logits / 2), torch.cat([mean, std, spike], 1), prior, latent, logits)

    def loss(self, images: torch.Tensor, output: CVAEOutput) -> dict[str, torch.Tensor]:
        """Bernoulli NLL + beta * spike-and-slab KL, averaged per image."""
        nll = bernoulli_nll(output.logits, images).mean()
        kl = spike_slab_kl(*output.posterior.chunk(3, 1), self.config.alpha).mean()
        return {"loss": nll + self.config.beta * kl, "nll": nll, "kl": kl}

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images decoded from the spike-and-slab prior."""
        device = self.mean.weight.device
        shape = (count, self.config.latent_dim)
        slab = torch.randn(shape, generator=generator, device=device)
        spikes = (torch.rand(shape, generator=generator, device=device) < self.config.alpha).to(slab.dtype)
        return self.decode(spikes * slab)

    @torch.no_grad()
    def posterior_sample(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One spike-and-slab posterior draw per image: spikes ~ Bernoulli(gamma), slabs ~ N(mean, std)."""
        mean, std, spike = self.encode(images)
        slab = mean + std * torch.randn(std.shape, generator=generator, dtype=std.dtype, device=std.device)
        return torch.bernoulli(spike, generator=generator) * slab

    def latent_features(self, images: torch.Tensor) -> torch.Tensor:
        """Features for the linear probe: the expected code ``gamma * mean``."""
        mean, _, spike = self.encode(images)
        return spike * mean

    def deployable_parts(self) -> dict:
        """None: see :meth:`neurovae.models.cvae.CVAE.deployable_parts`."""
        return {}

    def host_arrays(self, part: str) -> dict[str, torch.Tensor]:
        """Nothing runs on the host: no part is exported."""
        return {}
