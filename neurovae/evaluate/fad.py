"""Fréchet Autoencoder Distance (FAD), the FID substitute of FSVAE (Kamata et al., 2022).

FID needs Inception weights, which cannot be downloaded here; FAD replaces the Inception features with the
latent code of a small convolutional autoencoder that neurovae trains on the real data itself
(``neurovae fad-fit``). The distance between two image sets is then the Fréchet distance between
Gaussians fitted to their codes. FAD values are only comparable between runs that use the same autoencoder.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import linalg
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from neurovae.errors import CheckpointError, NeurovaeError
from neurovae.io import atomic_path

_FORMAT = "neurovae-fad-autoencoder"
_VERSION = 1
_BOTTLENECK = 2  # spatial size of the last feature map, as in FSVAE's AE / AELarge
FAD_DIR = Path("runs") / "fad"


def default_fad_path(dataset: str, image_size: int) -> Path:
    """Where ``neurovae fad-fit`` saves, and ``neurovae eval`` looks for, a dataset's FAD autoencoder."""
    return FAD_DIR / f"{dataset}-{image_size}.pt"


def fad_candidates(run_dir: str | os.PathLike, dataset: str, image_size: int) -> list[Path]:
    """Where ``neurovae eval`` looks for a run's FAD autoencoder, in order.

    First ``fad/<dataset>-<size>.pt`` beside the run folder, where ``neurovae demo`` puts its own (``runs/demo/fad/``
    beside ``runs/demo/run``), so a self-contained folder of runs carries its FAD model; then
    :func:`default_fad_path` (for ``runs/NAME`` the two are one file).
    """
    default = default_fad_path(dataset, image_size)
    beside = Path(run_dir).parent / "fad" / default.name
    return [beside] if beside.resolve() == default.resolve() else [beside, default]


def default_latent_dim(channels: int) -> int:
    """Latent size used by FSVAE: 64 for grey-scale data, 128 for colour data."""
    return 64 if channels == 1 else 128


class FADAutoencoder(nn.Module):
    """Conv encoder (stride 2, BN, LeakyReLU) to a linear code; transposed-conv decoder with tanh output.

    Channels double from 32 per halving of the image down to a 2x2 map, i.e. [32, 64, 128, 256] for
    32x32 images and [32, 64, 128, 256, 512] for 64x64, matching FSVAE's ``AE`` and ``AELarge``.

    Args:
        channels: Image channels (1 or 3).
        image_size: Height and width, a power of two of at least 4.
        latent_dim: Size of the code that FAD compares.
    """

    def __init__(self, channels: int, image_size: int, latent_dim: int) -> None:
        super().__init__()
        if image_size < 4 or image_size & (image_size - 1):
            raise NeurovaeError(f"FAD autoencoder needs a power-of-two image size >= 4, got {image_size}")
        self.channels, self.image_size, self.latent_dim = channels, image_size, latent_dim
        self.metadata: dict[str, Any] = {}
        widths = [32 * 2**i for i in range(int(math.log2(image_size // _BOTTLENECK)))]
        self._last = widths[-1]

        down: list[nn.Module] = []
        c_in = channels
        for w in widths:
            down += [nn.Conv2d(c_in, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.LeakyReLU()]
            c_in = w
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(self._last * _BOTTLENECK**2, latent_dim))

        self.decoder_input = nn.Linear(latent_dim, self._last * _BOTTLENECK**2)
        up: list[nn.Module] = []
        for w_in, w_out in zip(widths[::-1], widths[::-1][1:] + widths[:1], strict=True):
            up += [
                nn.ConvTranspose2d(w_in, w_out, 3, stride=2, padding=1, output_padding=1),
                nn.BatchNorm2d(w_out),
                nn.LeakyReLU(),
            ]
        self.decoder = nn.Sequential(*up, nn.Conv2d(widths[0], channels, 3, padding=1), nn.Tanh())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Code ``[N, latent_dim]`` of images ``[N, C, H, W]`` in [-1, 1]."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``[N, C, H, W]`` in [-1, 1] from codes ``[N, latent_dim]``."""
        h = self.decoder_input(z).view(-1, self._last, _BOTTLENECK, _BOTTLENECK)
        return self.decoder(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x``."""
        return self.decode(self.encode(x))


def fit_fad_autoencoder(
    dataset: Dataset,
    channels: int,
    image_size: int,
    latent_dim: int | None = None,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> FADAutoencoder:
    """Train a :class:`FADAutoencoder` on real images with the MSE loss and AdamW (FSVAE's recipe).

    The seed fixes both the initial weights and the shuffling order, so a CPU run is reproducible.

    Args:
        dataset: Yields ``(image, label)`` with images ``[C, H, W]`` in [-1, 1]; labels are ignored.
        channels: Image channels.
        image_size: Image height and width.
        latent_dim: Code size; ``None`` picks :func:`default_latent_dim`.
        epochs: Passes over ``dataset``.
        batch_size: Images per step.
        lr: AdamW learning rate.
        seed: Seed of the initialisation and the shuffling.
        device: Where to train.
        progress: Show a tqdm bar per epoch.

    Returns:
        The trained model in eval mode on ``device``; ``model.metadata`` holds the training settings and
        ``final_loss`` (mean MSE of the last epoch).
    """
    if latent_dim is None:
        latent_dim = default_latent_dim(channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FADAutoencoder(channels, image_size, latent_dim).to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    expected = (channels, image_size, image_size)
    final_loss = float("nan")
    model.train()
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"fad-fit {epoch}/{epochs}", disable=not progress, leave=False)
        for images, _ in bar:
            if tuple(images.shape[1:]) != expected:
                raise NeurovaeError(f"FAD data has images {tuple(images.shape[1:])}, expected {expected}")
            images = images.to(device, torch.float32)
            loss = nn.functional.mse_loss(model(images), images)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(images)
            count += len(images)
            bar.set_postfix(mse=f"{total / count:.4f}")
        final_loss = total / max(count, 1)
    model.eval()
    model.metadata = dict(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, final_loss=final_loss)
    return model


def save_fad_autoencoder(
    model: FADAutoencoder, path: str | os.PathLike, metadata: dict[str, Any] | None = None
) -> None:
    """Write weights, constructor arguments and metadata atomically.

    Args:
        model: The autoencoder.
        path: Destination file.
        metadata: Extra plain values (e.g. ``{"dataset": "fashion"}``), merged over ``model.metadata``.
    """
    config = {"channels": model.channels, "image_size": model.image_size, "latent_dim": model.latent_dim}
    payload = {
        "format": _FORMAT,
        "version": _VERSION,
        "config": config,
        "metadata": {**model.metadata, **(metadata or {})},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_fad_autoencoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> FADAutoencoder:
    """Read a checkpoint written by :func:`save_fad_autoencoder`.

    Args:
        path: Checkpoint file.
        device: Where to put the model.

    Returns:
        The model in eval mode with ``metadata`` restored.

    Raises:
        CheckpointError: The file is missing, unreadable or not a FAD autoencoder checkpoint.
    """
    hint = "create it with `neurovae fad-fit`"
    if not os.path.isfile(path):
        raise CheckpointError(f"FAD autoencoder {os.fspath(path)!r} not found; {hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(
            f"FAD autoencoder {os.fspath(path)!r} is unreadable ({type(exc).__name__}); {hint}"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise CheckpointError(f"{os.fspath(path)!r} is not a FAD autoencoder checkpoint; {hint}")
    try:
        model = FADAutoencoder(**payload["config"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError, NeurovaeError) as exc:
        raise CheckpointError(
            f"FAD autoencoder {os.fspath(path)!r} does not fit its network ({type(exc).__name__}); {hint}"
        ) from exc
    model.metadata = dict(payload.get("metadata", {}))
    return model.to(device).eval()


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]``.

    ``d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. As in the reference FID code, a
    non-finite square root is retried with ``eps * I`` added to both covariances, and the numerical
    imaginary part of the square root is dropped.

    Args:
        feats_a: First feature set, one row per sample.
        feats_b: Second feature set, same width.
        eps: Diagonal offset used when the product is singular.

    Returns:
        The squared Fréchet distance (the quantity FID and FAD report).

    Raises:
        NeurovaeError: The shapes are wrong or the square root has a large imaginary part.
    """
    a, b = np.asarray(feats_a, dtype=np.float64), np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise NeurovaeError(f"need two feature sets [N>=2, D] of equal D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():
        offset = np.eye(s_a.shape[0]) * eps
        covmean = linalg.sqrtm((s_a + offset) @ (s_b + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise NeurovaeError(
                f"Fréchet distance: imaginary component {np.abs(covmean.imag).max():.3g} in the matrix "
                "square root; use more samples than feature dimensions"
            )
        covmean = covmean.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))


@torch.no_grad()
def encode_images(model: FADAutoencoder, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Codes ``[N, latent_dim]`` (float64) of images ``[N, C, H, W]`` in [-1, 1], computed in batches."""
    expected = (model.channels, model.image_size, model.image_size)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise NeurovaeError(f"FAD autoencoder expects images [N, {expected}], got {tuple(images.shape)}")
    model.eval()
    device = next(model.parameters()).device
    codes = [
        model.encode(images[i : i + batch_size].to(device, torch.float32)).cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(codes).double().numpy()


def fad(model: FADAutoencoder, real_images: torch.Tensor, fake_images: torch.Tensor, batch_size: int = 256) -> float:
    """Fréchet Autoencoder Distance between real and generated (or reconstructed) images.

    Args:
        model: A trained FAD autoencoder for this dataset.
        real_images: ``[N, C, H, W]`` in [-1, 1].
        fake_images: ``[M, C, H, W]`` in [-1, 1].
        batch_size: Images per encoder call.

    Returns:
        :func:`frechet_distance` of the two sets of codes.
    """
    return frechet_distance(
        encode_images(model, real_images, batch_size), encode_images(model, fake_images, batch_size)
    )
