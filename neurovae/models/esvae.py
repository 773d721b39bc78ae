"""ESVAE: efficient spiking VAE with a Poisson latent (Zhan et al. 2024).

Encoder ``32C3-64C3-128C3-256C3-128FC`` (stride-2 convolutions, tdBN, LIF) turns the image, fed
directly as input current at every step, into latent spikes whose firing rates ``r_p`` parameterize
the Poisson posterior. Each synapse delays by one step (as on Lava), so the encoder sees the image for
``T + latency`` steps and its rates are taken over the last ``T``, and the decoder runs ``latency`` steps past
the ``T`` latent steps before its readout: the pipeline's latency is compensated, not cut from the window.
The prior's rates ``r_q = sigmoid(FC(z_n))``, ``z_n ~ N(0, I)`` (the
"bottleneck", trained at 10x the learning rate). Latent spikes are sampled by
:func:`~neurovae.models.sampling.poisson_spikes`; the decoder ``128FC-256C3-128C3-64C3-32C3-32C3-C``
(transposed convolutions) ends in a leaky membrane readout (decay 0.8) and ``tanh``.
Loss: ``MSE(x, x_hat) + lambda * MMD^2(r_p, r_q)`` with an RBF kernel (eq. 11).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neurovae import distributed
from neurovae.models.losses import rbf_mmd2
from neurovae.models.outputs import VAEOutput
from neurovae.models.sampling import poisson_spikes
from neurovae.neurons import (
    LIF,
    LeakyReadout,
    LIFParams,
    SpikingBlock,
    SpikingStack,
    TDBatchNorm,
    TimeFlatten,
    TimeUnflatten,
    init_readout,
)
from neurovae.registry import MODELS


@dataclass
class BackboneConfig:
    """The spiking convolutional encoder and decoder that FSVAE introduced and ESVAE reuses (shared fields)."""

    in_channels: int = 1
    image_size: int = 32
    channels: tuple[int, ...] = (32, 64, 128, 256)
    latent_dim: int = 128
    steps: int = 16  # T
    threshold: float = 0.2  # V_th
    beta: float = 0.25  # membrane decay factor ("tau" in the papers)
    surrogate_width: float = 0.5  # alpha of the rectangular surrogate gradient
    readout_beta: float = 0.8  # decay of the membrane readout of the last layer

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        reduction = 2 ** len(self.channels)
        if self.image_size % reduction:
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^{len(self.channels)}")
        if self.steps < 1 or self.latent_dim < 1:
            raise ValueError("steps and latent_dim must be positive")
        LIFParams(self.beta, self.threshold, self.surrogate_width)


@dataclass
class ESVAEConfig(BackboneConfig):
    """ESVAE hyper-parameters (defaults: the paper's MNIST/Fashion-MNIST/CIFAR-10 settings)."""

    sampling_width: float = 0.5  # alpha of the Poisson sampling surrogate (eq. 8)
    mmd_lambda: float = 0.001
    mmd_kernels: int = 5
    mmd_kernel_multiplier: float = 2.0


def _block(synapse: nn.Module, channels: int, config: BackboneConfig) -> SpikingBlock:
    lif = LIF(LIFParams(config.beta, config.threshold, config.surrogate_width))
    return SpikingBlock(synapse, lif, TDBatchNorm(channels, threshold=config.threshold))


def build_encoder(config: BackboneConfig) -> SpikingStack:
    """Image (direct input, repeated every step) -> latent spikes ``[T, N, latent_dim]``."""
    layers: list[nn.Module] = []
    in_ch = config.in_channels
    for out_ch in config.channels:
        layers.append(_block(nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), out_ch, config))
        in_ch = out_ch
    side = config.image_size // 2 ** len(config.channels)
    layers += [TimeFlatten(), _block(nn.Linear(in_ch * side * side, config.latent_dim), config.latent_dim, config)]
    return SpikingStack((config.in_channels, config.image_size, config.image_size), *layers)


def build_decoder(config: BackboneConfig) -> SpikingStack:
    """Latent spikes ``[T, N, latent_dim]`` -> membrane readout ``[N, C, H, W]`` (before tanh)."""
    side = config.image_size // 2 ** len(config.channels)
    rev = config.channels[::-1]
    layers: list[nn.Module] = [
        _block(nn.Linear(config.latent_dim, rev[0] * side * side), rev[0] * side * side, config),
        TimeUnflatten((rev[0], side, side)),
    ]
    for in_ch, out_ch in zip(rev[:-1], rev[1:], strict=True):
        layers.append(_block(nn.ConvTranspose2d(in_ch, out_ch, 3, 2, padding=1, output_padding=1), out_ch, config))
    last = rev[-1]
    layers.append(_block(nn.ConvTranspose2d(last, last, 3, 2, padding=1, output_padding=1), last, config))
    layers.append(SpikingBlock(nn.ConvTranspose2d(last, config.in_channels, 3, 1, padding=1),
                               LeakyReadout(config.readout_beta)))
    decoder = SpikingStack((config.latent_dim,), *layers)
    init_readout(decoder[-1], config.steps + decoder.latency)
    return decoder


@MODELS.register("esvae", ESVAEConfig)
class ESVAE(nn.Module):
    """Efficient spiking VAE; see the module docstring for the architecture and loss."""

    def __init__(self, config: ESVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        self.decoder = build_decoder(config)
        self.bottleneck = nn.Sequential(nn.Linear(config.latent_dim, config.latent_dim), nn.Sigmoid())

    def direct_input(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``[N, C, H, W]`` repeated over ``T + latency`` steps: the encoder's input current."""
        return images.unsqueeze(0).expand(self.config.steps + self.encoder.latency, *images.shape)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Posterior firing rates ``r_p`` ``[N, latent_dim]`` over the last ``T`` steps (eq. 5)."""
        return self.encoder.window(images.unsqueeze(0).expand(self.config.steps, *images.shape)).mean(0)

    def prior_rates(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Prior firing rates ``r_q = sigmoid(FC(z_n))``, ``z_n ~ N(0, I)``."""
        device = self.bottleneck[0].weight.device
        noise = torch.randn(count, self.config.latent_dim, generator=generator, device=device)
        return self.bottleneck(noise)

    def sample_latent(self, rates: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Poisson latent spikes ``[T, N, latent_dim]`` at ``rates``."""
        return poisson_spikes(rates, self.config.steps, self.config.sampling_width, generator)

    def decoder_input(self, latent_spikes: torch.Tensor) -> torch.Tensor:
        """Latent spikes ``[T, N, d]`` followed by ``latency`` silent steps, so that every step reaches the readout."""
        silence = latent_spikes.new_zeros((self.decoder.latency, *latent_spikes.shape[1:]))
        return torch.cat([latent_spikes, silence])

    def decode(self, latent_spikes: torch.Tensor) -> torch.Tensor:
        """Images ``[N, C, H, W]`` in (-1, 1) from latent spikes ``[T, N, d]``."""
        return torch.tanh(self.decoder.window(latent_spikes))

    def forward(self, images: torch.Tensor) -> VAEOutput:
        """Reconstruct ``images`` through a sampled latent; also returns both rate vectors."""
        posterior = self.encode(images)
        latent = self.sample_latent(posterior)
        return VAEOutput(self.decode(latent), posterior, self.prior_rates(images.shape[0]), latent)

    def loss(self, images: torch.Tensor, output: VAEOutput) -> dict[str, torch.Tensor]:
        """Eq. 11: reconstruction MSE plus lambda times the RBF MMD between posterior and prior rates."""
        recon = F.mse_loss(output.reconstruction, images)
        posterior, prior = distributed.gather_batch(output.posterior), distributed.gather_batch(output.prior)
        mmd = rbf_mmd2(posterior, prior, self.config.mmd_kernels, self.config.mmd_kernel_multiplier)  # global batch
        return {"loss": recon + self.config.mmd_lambda * mmd, "mse": recon, "mmd": mmd}

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images generated from the prior."""
        return self.decode(self.sample_latent(self.prior_rates(count, generator), generator))

    def latent_features(self, images: torch.Tensor) -> torch.Tensor:
        """Features for the linear probe: the posterior firing rates (the paper's Table III input)."""
        return self.encode(images)

    def host_arrays(self, part: str) -> dict[str, torch.Tensor]:
        """What a deployed ``part`` needs computed on the host: the decoder's prior bottleneck."""
        if part != "decoder":
            return {}
        linear = self.bottleneck[0]
        return {"prior_weight": linear.weight.detach(), "prior_bias": linear.bias.detach()}

    def deployable_parts(self) -> dict[str, tuple[SpikingStack, str, str]]:
        """``name -> (stack, input encoding, output readout)`` for export to a neuromorphic target."""
        return {
            "encoder": (self.encoder, "direct", "spike_rate"),
            "decoder": (self.decoder, "spikes", "voltage_tanh"),
        }
