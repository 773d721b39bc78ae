"""Evaluation: reconstruction quality, Fréchet Autoencoder Distance, linear probe and image grids."""

from neurovae.evaluate.fad import (
    FADAutoencoder,
    default_latent_dim,
    encode_images,
    fad,
    fit_fad_autoencoder,
    frechet_distance,
    load_fad_autoencoder,
    save_fad_autoencoder,
)
from neurovae.evaluate.grids import save_comparison_grid, save_image_grid
from neurovae.evaluate.probe import linear_probe_accuracy
from neurovae.evaluate.quality import mse, psnr, ssim

__all__ = [
    "FADAutoencoder",
    "default_latent_dim",
    "encode_images",
    "fad",
    "fit_fad_autoencoder",
    "frechet_distance",
    "linear_probe_accuracy",
    "load_fad_autoencoder",
    "mse",
    "psnr",
    "save_comparison_grid",
    "save_fad_autoencoder",
    "save_image_grid",
    "ssim",
]
