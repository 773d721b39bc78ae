"""Image corruptions of Tadros et al. (2019), Fig. 4: additive Gaussian noise and Gaussian blur.

Images are flat ``[count, side * side]`` in [0, 1]; results are clipped back to [0, 1].
"""

from __future__ import annotations

import math

import torch

from neurovae.sleep.stdp_network.params import StdpParameterError


def add_gaussian_noise(images: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Add zero-mean Gaussian noise of standard deviation ``sigma`` (in units of full intensity)."""
    if sigma < 0:
        raise StdpParameterError(f"noise sigma must be >= 0, got {sigma}")
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return (images + sigma * noise).clamp(0.0, 1.0)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur square images with a separable Gaussian kernel of ``sigma`` pixels (radius 3 sigma, zero padding)."""
    if sigma < 0:
        raise StdpParameterError(f"blur sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return images.clone()
    side = math.isqrt(images.shape[-1])
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    planes = images.reshape(-1, 1, side, side)
    planes = torch.nn.functional.conv2d(planes, kernel.view(1, 1, 1, -1), padding=(0, radius))
    planes = torch.nn.functional.conv2d(planes, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    return planes.reshape(images.shape).clamp(0.0, 1.0)
