"""The training loop: seeded, progress-barred, checkpointed every epoch, exactly resumable.

Reproducibility: the data order of epoch ``e`` comes from a generator seeded with ``(seed, e)`` and
all RNG states are stored in the checkpoint, so ``train 2 epochs`` equals ``train 1, resume 1`` bit for
bit on the CPU.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from neurovae.config import RunConfig
from neurovae.errors import ConfigError
from neurovae.registry import MODELS
from neurovae.train.checkpoint import (
    RunPaths,
    init_run,
    load_checkpoint,
    restore_state,
    save_checkpoint,
    set_rng_state,
)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; an unavailable cuda is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def build_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """AdamW with per-submodule learning-rate multipliers (ESVAE: bottleneck x10)."""
    train = config.train
    groups, claimed = [], set()
    for name, multiplier in train.lr_multipliers.items():
        module = getattr(model, name, None)
        if not isinstance(module, nn.Module):
            raise ConfigError(f"train.lr_multipliers names {name!r}, which is not a part of {config.model_name}")
        params = list(module.parameters())
        claimed.update(id(p) for p in params)
        groups.append({"params": params, "lr": train.lr * multiplier})
    rest = [p for p in model.parameters() if id(p) not in claimed]
    groups.insert(0, {"params": rest, "lr": train.lr})
    return torch.optim.AdamW(groups, lr=train.lr, weight_decay=train.weight_decay)


def build_model(config: RunConfig) -> nn.Module:
    """Instantiate the configured model."""
    return MODELS.create(config.model_name, config.model)


@dataclass
class EpochStats:
    """Mean losses of one epoch and its throughput."""

    epoch: int
    losses: dict[str, float]
    images: int
    seconds: float

    def as_json(self) -> str:
        """One history line."""
        return json.dumps({"epoch": self.epoch, **self.losses, "images": self.images,
                           "seconds": round(self.seconds, 3), "images_per_s": round(self.images / self.seconds, 2)})


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, device: torch.device,
                step: Callable[[torch.Tensor], dict[str, torch.Tensor]], epoch: int, progress: bool) -> EpochStats:
    """One pass over ``loader``; ``step(images)`` returns the loss dict of one batch."""
    model.train()
    sums: dict[str, float] = {}
    count, start = 0, time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}", disable=not progress, leave=False, unit="batch")
    for images, _ in bar:
        images = images.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        losses = step(images)
        if not torch.isfinite(losses["loss"]):
            raise FloatingPointError(f"loss became {losses['loss'].item()} in epoch {epoch + 1}; lower train.lr")
        losses["loss"].backward()
        optimizer.step()
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + value.item() * images.shape[0]
        count += images.shape[0]
        bar.set_postfix({k: f"{v / count:.4f}" for k, v in sums.items()})
    return EpochStats(epoch + 1, {k: v / count for k, v in sums.items()}, count, time.perf_counter() - start)


def train(config: RunConfig, out: str, train_set: Dataset, resume: bool = False, progress: bool = True,
          log: Callable[[str], None] = print) -> RunPaths:
    """Train ``config`` on ``train_set``, writing ``out/`` (config, checkpoint, history)."""
    device = pick_device(config.train.device)
    paths = RunPaths(Path(out))
    seed_everything(config.train.seed)
    model = build_model(config).to(device)
    optimizer = build_optimizer(model, config)
    start_epoch = 0
    if resume and paths.checkpoint.is_file():
        state = load_checkpoint(paths.checkpoint)
        restore_state(paths.checkpoint, model, optimizer, state,
                      "train into a new --out, or drop --resume to start this run over")
        set_rng_state(state["rng"])
        start_epoch = state["epoch"]
        log(f"resuming {out} after epoch {start_epoch}")
    if start_epoch == 0 and paths.history.exists():
        paths.history.unlink()
    init_run(out, config)
    step_model = torch.compile(model) if config.train.compile else model

    def step(images: torch.Tensor) -> dict[str, torch.Tensor]:
        return model.loss(images, step_model(images))

    for epoch in range(start_epoch, config.train.epochs):
        order = torch.Generator().manual_seed(config.train.seed * 100_003 + epoch)
        loader = DataLoader(train_set, batch_size=config.train.batch_size, shuffle=True, generator=order,
                            drop_last=len(train_set) > config.train.batch_size,
                            num_workers=config.train.num_workers)
        stats = train_epoch(model, loader, optimizer, device, step, epoch, progress)
        save_checkpoint(paths, model, optimizer, epoch + 1)
        with paths.history.open("a") as history:
            history.write(stats.as_json() + "\n")
        log(f"epoch {stats.epoch}/{config.train.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in stats.losses.items())
            + f" ({stats.images / stats.seconds:.1f} images/s)")
    return paths
