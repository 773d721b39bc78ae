"""PSNR as VAE-sleep's paper may have computed it, beside the standard one, and the mean-image predictor's score.

Talafha et al. 2020 (Table 4) report PSNR without a definition that can be followed: eq. 18 has its sign inverted
and eq. 19 calls a mean *absolute* error "MSE". Their figures cannot be standard PSNR (30 dB on Fashion-MNIST is an
MSE of 0.001 per pixel, which no model here approaches), so each definition that could have produced them is
computed side by side, on every image and over the whole set, for a model and for the predictor that always
outputs the mean training image (the floor any reconstruction must beat):

* ``standard``: ``10 log10(1 / MSE)`` on [0, 1] images (what :func:`neurovae.evaluate.quality.psnr` reports);
* ``twenty_log``: ``20 log10(1 / MSE)``, twice the standard value (a ``20 log10`` applied to a squared error);
* ``eq19``: eq. 19 read literally, ``10 log10(MAX^2 / MAE)`` with the mean absolute error of 8-bit images
  (``MAX = 255``); since ``MAE <= 255`` it can never fall below ``10 log10(255) = 24.07`` dB.

"Per image" averages each image's value (as the standard PSNR here); "dataset" applies the definition to the error
of all pixels together (every image has as many pixels, so that error is the mean of the images' errors).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from neurovae.evaluate.quality import check_pair, to_unit

EIGHT_BIT_MAX = 255.0
"""Eq. 19's ``MAX`` read as 8-bit pixels: the only reading under which the paper's own figures are reachable."""

DEFINITIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "standard": lambda mse, mae: 10 * torch.log10(1 / mse),
    "twenty_log": lambda mse, mae: 20 * torch.log10(1 / mse),
    "eq19": lambda mse, mae: 10 * torch.log10(EIGHT_BIT_MAX**2 / (EIGHT_BIT_MAX * mae)),
}
"""Each definition as a function of the [0, 1]-scale MSE and MAE (an exact reconstruction gives ``inf``)."""

EQ19_FLOOR_DB = 10 * math.log10(EIGHT_BIT_MAX)
"""The lowest value eq. 19 can give (MAE = 255: every pixel wrong by the whole range)."""

PAPER_PSNR_MODELS = ("cvae", "vsc")
"""Models whose evaluation carries these variants: Talafha et al.'s Table 4 rows (CVAE, VSC, and the slept CVAE,
which is a ``cvae`` run)."""


def psnr_variants(recon: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Every definition of :data:`DEFINITIONS`, per image (averaged) and over the dataset, in dB.

    Args:
        recon: reconstructions ``[N, C, H, W]`` in [-1, 1].
        target: originals, same shape.
    """
    check_pair(recon, target)
    error = to_unit(recon) - to_unit(target)
    mse, mae = error.pow(2).flatten(1).mean(1), error.abs().flatten(1).mean(1)
    out = {}
    for name, definition in DEFINITIONS.items():
        out[f"{name}_per_image"] = definition(mse, mae).mean().item()
        out[f"{name}_dataset"] = definition(mse.mean(), mae.mean()).item()
    return out


def mean_image_variants(reference: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """:func:`psnr_variants` of the predictor that outputs the mean of the ``reference`` images for every target.

    ``reference``: training images, so that it is a predictor and not a property of the test set.
    """
    return psnr_variants(reference.double().mean(0, keepdim=True).expand_as(target), target)


def paper_psnr(recon: torch.Tensor, target: torch.Tensor, reference: torch.Tensor) -> dict[str, object]:
    """:func:`psnr_variants` of a model's reconstructions beside :func:`mean_image_variants` of ``reference``."""
    return {"model": psnr_variants(recon, target), "mean_image": mean_image_variants(reference, target),
            "mean_image_of": len(reference)}
