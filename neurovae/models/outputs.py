"""Output records shared by the VAE models."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class VAEOutput:
    """What a spiking VAE's forward pass returns.

    Attributes:
        reconstruction: images ``[N, C, H, W]`` in (-1, 1).
        posterior: posterior latent parameters (ESVAE: firing rates ``r_p`` ``[N, d]``).
        prior: prior latent parameters for the same batch size (ESVAE: rates ``r_q``).
        latent: sampled latent spikes ``[T, N, d]``.
    """

    reconstruction: torch.Tensor
    posterior: torch.Tensor
    prior: torch.Tensor
    latent: torch.Tensor
