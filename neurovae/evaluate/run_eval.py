"""Evaluate a trained run: reconstruction MSE / PSNR / SSIM, FAD, linear probe, image grids.

Reconstruction MSE is on images in [-1, 1] (what the ESVAE paper's Table I reports); PSNR and SSIM
are on [0, 1]. FAD uses the autoencoder fitted by ``neurovae fad-fit`` for the dataset: its values are
comparable only between neurovae runs that use the same FAD autoencoder.

Optional parts of the model contract: a model without ``sample`` (an auto-encoder) gets no samples, sample FAD
or samples grid; a model whose output carries ``layer_rates`` (the SAE) gets the activity statistics of
:mod:`neurovae.evaluate.activity` per layer, and every model the intra/inter-class distance ratio of its
latent features.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from neurovae.evaluate.activity import LayerActivity, intra_inter_distance_ratio
from neurovae.evaluate.fad import fad, load_fad_autoencoder
from neurovae.evaluate.grids import save_comparison_grid, save_image_grid
from neurovae.evaluate.probe import linear_probe_accuracy
from neurovae.evaluate.psnr_variants import paper_psnr
from neurovae.evaluate.quality import mse, psnr, ssim
from neurovae.io import atomic_path, strict_json

RATIO_IMAGES = 2000
"""Test images used for the intra/inter-class distance ratio (it compares every pair)."""


@torch.no_grad()
def collect(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int = 256,
            progress: bool = True, desc: str = "evaluating",
            activity: dict[str, LayerActivity] | None = None) -> dict[str, torch.Tensor]:
    """Inputs, reconstructions, latent features and labels of a whole dataset.

    ``activity``: filled with one :class:`LayerActivity` per layer when the model's output has ``layer_rates``.
    """
    out: dict[str, list[torch.Tensor]] = {"images": [], "reconstructions": [], "features": [], "labels": []}
    for images, labels in tqdm(DataLoader(dataset, batch_size=batch_size), desc=desc, disable=not progress,
                               leave=False, unit="batch"):
        images = images.to(device)
        out["images"].append(images.cpu())
        output = model(images)
        out["reconstructions"].append(output.reconstruction.cpu())
        if activity is not None:
            for name, rates in getattr(output, "layer_rates", {}).items():
                activity.setdefault(name, LayerActivity()).update(rates)
        out["features"].append(model.latent_features(images).cpu())
        out["labels"].append(torch.as_tensor(labels))
    return {key: torch.cat(value) for key, value in out.items()}


@torch.no_grad()
def generate(model: nn.Module, count: int, seed: int, batch_size: int = 256) -> torch.Tensor:
    """``count`` images sampled from the model's prior with a seeded generator."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.cat([model.sample(min(batch_size, count - i), generator).cpu() for i in range(0, count, batch_size)])


def evaluate_run(model: nn.Module, test_set: Dataset, probe_train_set: Dataset | None, out_dir: str | os.PathLike,
                 fad_model_path: str | os.PathLike | None = None, seed: int = 0,
                 progress: bool = True, about: dict[str, Any] | None = None,
                 paper_psnr_variants: bool = False) -> dict[str, Any]:
    """Compute every metric, write ``metrics.json`` and PNG grids into ``out_dir``; return the metrics.

    ``about`` (what was evaluated: epochs, images seen, precision) is stored in ``metrics.json`` too.
    ``paper_psnr_variants``: add ``paper_psnr``, the PSNR definitions that VAE-sleep's paper may have used and the
    mean-image predictor's score under each (:mod:`neurovae.evaluate.psnr_variants`), its mean taken over the
    probe's training images (over the test images when there is no probe).
    """
    out_dir = Path(out_dir)
    model.eval()
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    activity: dict[str, LayerActivity] = {}
    test = collect(model, test_set, device, progress=progress, desc="test set", activity=activity)
    metrics: dict[str, Any] = {
        "test_images": len(test["images"]),
        "mse": mse(test["reconstructions"], test["images"]),
        "psnr": psnr(test["reconstructions"], test["images"]),
        "ssim": ssim(test["reconstructions"], test["images"]),
        "intra_inter_distance_ratio": intra_inter_distance_ratio(test["features"][:RATIO_IMAGES],
                                                                 test["labels"][:RATIO_IMAGES]),
    }
    if activity:
        metrics["activity"] = {name: stats.compute() for name, stats in activity.items()}
    generative = hasattr(model, "sample")
    samples = generate(model, len(test["images"]), seed) if generative else None
    if fad_model_path is not None and Path(fad_model_path).is_file():
        fad_model = load_fad_autoencoder(fad_model_path, device=device)
        if generative:
            metrics["fad"] = fad(fad_model, test["images"], samples)
        metrics["fad_reconstruction"] = fad(fad_model, test["images"], test["reconstructions"])
        metrics["fad_model"] = str(fad_model_path)
    if probe_train_set is not None:
        train = collect(model, probe_train_set, device, progress=progress, desc="probe features")
        metrics["probe_accuracy"] = linear_probe_accuracy(train["features"], train["labels"], test["features"],
                                                          test["labels"], seed=seed)
        metrics["probe_train_images"] = len(train["labels"])
    if paper_psnr_variants:
        reference = train["images"] if probe_train_set is not None else test["images"]
        metrics["paper_psnr"] = paper_psnr(test["reconstructions"], test["images"], reference)
    save_comparison_grid({"input": test["images"][:16], "reconstruction": test["reconstructions"][:16]},
                         out_dir / "reconstructions.png", title="test images and their reconstructions", ncol=16)
    if generative:
        save_image_grid(samples[:64], out_dir / "samples.png", nrow=8, title="samples from the prior")
    metrics.update(about or {})
    with atomic_path(out_dir / "metrics.json") as tmp:
        tmp.write_text(strict_json(metrics) + "\n")  # an undefined metric (NaN) as null
    return metrics
