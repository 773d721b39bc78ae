"""Per-image reconstruction quality: MSE, PSNR and SSIM for images in [-1, 1].

MSE is reported on the model's own [-1, 1] scale, the scale of the reconstruction loss that the ESVAE and
FSVAE papers report. PSNR and SSIM are conventionally reported on [0, 1] images, so both images are first
mapped with ``x -> (x + 1) / 2`` and the metrics are computed with ``data_range = 1``.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from neurovae.errors import NeurovaeError


def check_pair(recon: torch.Tensor, target: torch.Tensor) -> None:
    """Reject pairs that would broadcast silently or are not image batches."""
    if recon.shape != target.shape:
        raise NeurovaeError(
            f"reconstruction shape {tuple(recon.shape)} does not match target shape {tuple(target.shape)}"
        )
    if recon.ndim != 4 or recon.shape[0] == 0:
        raise NeurovaeError(f"expected a non-empty image batch [N, C, H, W], got shape {tuple(recon.shape)}")


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """Map [-1, 1] images to [0, 1] in float64, clamping the overshoot of an unbounded decoder."""
    return ((images.detach().double() + 1.0) / 2.0).clamp(0.0, 1.0)


def mse(recon: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error on the [-1, 1] scale, averaged over every pixel of every image.

    ``MSE = mean((recon - target)^2)``; it is four times the MSE of the same images mapped to [0, 1].

    Args:
        recon: Reconstructions ``[N, C, H, W]`` in [-1, 1].
        target: Originals, same shape.

    Returns:
        The mean squared error.
    """
    check_pair(recon, target)
    return torch.mean((recon.detach().double() - target.detach().double()) ** 2).item()


def psnr(recon: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB on [0, 1] images, computed per image and averaged over N.

    ``PSNR_i = 10 log10(1 / MSE_i)`` with ``MSE_i`` the [0, 1]-scale MSE of image ``i``; an exact
    reconstruction gives ``inf`` (and so does the mean if any image is exact).

    Args:
        recon: Reconstructions ``[N, C, H, W]`` in [-1, 1].
        target: Originals, same shape.

    Returns:
        The mean per-image PSNR in dB.
    """
    check_pair(recon, target)
    per_image = peak_signal_noise_ratio(
        to_unit(recon), to_unit(target), data_range=1.0, reduction="none", dim=(1, 2, 3)
    )
    return per_image.mean().item()


def ssim(recon: torch.Tensor, target: torch.Tensor, batch_size: int = 256) -> float:
    """Structural similarity on [0, 1] images (11x11 Gaussian window, sigma 1.5), averaged over N.

    ``SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))`` with
    ``C1 = (0.01)^2`` and ``C2 = (0.03)^2`` for ``data_range = 1``; identical images give 1.

    Args:
        recon: Reconstructions ``[N, C, H, W]`` in [-1, 1].
        target: Originals, same shape.
        batch_size: Images per chunk, to bound the memory of the windowed statistics.

    Returns:
        The mean per-image SSIM.
    """
    check_pair(recon, target)
    per_image = [
        structural_similarity_index_measure(
            to_unit(recon[i : i + batch_size]),
            to_unit(target[i : i + batch_size]),
            data_range=1.0,
            reduction="none",
        )
        for i in range(0, recon.shape[0], batch_size)
    ]
    return torch.cat(per_image).mean().item()
