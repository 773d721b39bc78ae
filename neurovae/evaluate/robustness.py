"""Reconstruction and class information under noise: Gaussian pixel noise on the inputs and noise on the latent code.

VAE-sleep is claimed to make a VAE robust to noisy inputs (Talafha et al. 2020); its paper tests noise on the
latent code. Both are measured here on one split: the first half fits a linear probe on codes made under the same
noise, the second half is reconstructed (PSNR against the *clean* image) and classified. Every condition draws
its noise from its own seed, so two models compared with the same ``seed`` see exactly the same noise.
"""

from __future__ import annotations

import torch
from torch import nn

from neurovae.errors import ConfigError
from neurovae.evaluate.latent_noise import with_noise
from neurovae.evaluate.probe import linear_probe_accuracy
from neurovae.evaluate.quality import psnr


def conditions(pixel_sigmas: tuple[float, ...], latent_std: float) -> list[tuple[str, float]]:
    """``(name, std)`` of every noise condition: ``pixel <sigma>`` (on [0, 1] images), then ``latent <std>``."""
    if any(not 0 < sigma <= 1 for sigma in pixel_sigmas) or not latent_std >= 0:
        raise ConfigError(f"pixel noise sigmas must be in (0, 1] and the latent noise >= 0, got {pixel_sigmas} "
                          f"and {latent_std}")
    return [(f"pixel {sigma:g}", sigma) for sigma in pixel_sigmas] + [(f"latent {latent_std:g}", latent_std)]


@torch.no_grad()
def robustness(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               pixel_sigmas: tuple[float, ...] = (0.1, 0.2, 0.3), latent_std: float = 1.0,
               seed: int = 0) -> dict[str, dict[str, float]]:
    """Per noise condition, PSNR of the second half's reconstructions and the probe's accuracy on its codes.

    Args:
        model: a model whose output has ``latent`` and that has ``decode`` (CVAE, VSC).
        images: images ``[N, C, H, W]`` in [-1, 1], N >= 4.
        labels: their classes ``[N]``.
        pixel_sigmas: standard deviations of the pixel noise on the [0, 1] scale (clipped to the valid range).
        latent_std: standard deviation of the noise on the latent code (the paper: 1).
        seed: seed of the noise.
    """
    if len(images) < 4 or len(images) != len(labels):
        raise ConfigError(f"robustness needs at least 4 labelled images, got {len(images)} and {len(labels)} labels")
    model.eval()
    half = len(images) // 2
    out = {}
    for index, (name, std) in enumerate(conditions(pixel_sigmas, latent_std)):
        if name.startswith("pixel"):
            codes = model(with_noise(images, 2 * std, seed + index).clamp(-1, 1)).latent  # [-1, 1]: twice the sigma
        else:
            codes = with_noise(model(images).latent, std, seed + index)
        out[name] = {"psnr": psnr(model.decode(codes[half:]), images[half:]),
                     "probe": linear_probe_accuracy(codes[:half], labels[:half], codes[half:], labels[half:],
                                                    seed=seed)}
    return out
