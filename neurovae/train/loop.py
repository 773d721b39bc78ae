"""The training loop: seeded, progress-barred, checkpointed every epoch, exactly resumable, data-parallel.

Reproducibility: the data order of epoch ``e`` comes from a generator seeded with ``(seed, e)`` and
all RNG states are stored in the checkpoint, so ``train 2 epochs`` equals ``train 1, resume 1`` bit for
bit on the CPU. Launched by ``torchrun`` the loop trains with ``DistributedDataParallel``, each process on its
part of every global batch (:mod:`neurovae.distributed`); only rank 0 writes the run's files.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler
from tqdm import tqdm

from neurovae import distributed
from neurovae.config import RunConfig
from neurovae.errors import ConfigError
from neurovae.io import lock_folder
from neurovae.registry import MODELS
from neurovae.train.checkpoint import (
    RunPaths,
    init_run,
    load_checkpoint,
    restore_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda:K`` -> GPU K; an unavailable GPU is a clear error.

    In a torchrun group (``local_rank`` given) ``cuda`` means this process's own GPU, ``cuda:LOCAL_RANK``.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    kind, _, index = name.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:K")
    if not torch.cuda.is_available():
        raise ConfigError(f"--device {name} asked for, but torch sees no CUDA device; use --device cpu")
    gpu = int(index) if index else (local_rank or 0)
    if gpu >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0")
    return torch.device("cuda", gpu)


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
class EpochProgress:
    """Running sums of a (possibly interrupted) epoch; saved in mid-epoch checkpoints for exact resume."""

    batches: int = 0
    images: int = 0
    seconds: float = 0.0
    sums: dict[str, float] | None = None

    def add(self, losses: dict[str, torch.Tensor], images: int, seconds: float) -> None:
        """Account one batch."""
        self.sums = self.sums or {}
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value.item() * images
        self.batches, self.images, self.seconds = self.batches + 1, self.images + images, self.seconds + seconds

    def means(self) -> dict[str, float]:
        """Mean of each loss term so far."""
        return {k: v / self.images for k, v in (self.sums or {}).items()}


def epoch_batches(train_set: Dataset, config: RunConfig, epoch: int) -> list[list[int]]:
    """The batches of ``epoch``, in order: a generator seeded with ``(seed, epoch)`` fixes them."""
    order = torch.Generator().manual_seed(config.train.seed * 100_003 + epoch)
    drop_last = len(train_set) > config.train.batch_size
    return list(BatchSampler(RandomSampler(train_set, generator=order), config.train.batch_size, drop_last))


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, device: torch.device,
                step: Callable[[torch.Tensor], dict[str, torch.Tensor]], epoch: int, progress: bool,
                done: EpochProgress, total_batches: int,
                after_batch: Callable[[EpochProgress], None] = lambda _: None) -> EpochProgress:
    """Continue epoch ``epoch`` over ``loader`` (its remaining batches); ``step(images)`` gives the loss dict."""
    model.train()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}", disable=not progress, leave=False, unit="batch",
               initial=done.batches, total=total_batches)
    for images, _ in bar:
        start = time.perf_counter()
        images = images.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        losses = step(images)
        if not torch.isfinite(losses["loss"]):
            raise FloatingPointError(f"loss became {losses['loss'].item()} in epoch {epoch + 1}; lower train.lr")
        losses["loss"].backward()
        optimizer.step()
        done.add(losses, images.shape[0], time.perf_counter() - start)
        bar.set_postfix({k: f"{v:.4f}" for k, v in done.means().items()})
        after_batch(done)
    return done


@torch.no_grad()
def validation_mse(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int) -> float:
    """Per-pixel reconstruction MSE (images in [-1, 1]) of the model in eval mode, its latent sampled.

    The sampling draws from a forked, fixed-seed generator, so validating never changes the training's random
    stream: a run validated every epoch trains exactly as one that is not.
    """
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        for images, _ in DataLoader(dataset, batch_size=batch_size):
            images = images.to(device)
            reconstruction = model(images).reconstruction
            total += torch.nn.functional.mse_loss(reconstruction, images, reduction="sum").item()
            count += images.numel()
    model.train(was_training)
    return total / count


def group_progress(stats: EpochProgress) -> EpochProgress:
    """An epoch's sums over every process of the group: the global batch's images and mean losses."""
    parts = distributed.gather_objects(stats)
    sums = {key: sum((part.sums or {}).get(key, 0.0) for part in parts) for key in (stats.sums or {})}
    return EpochProgress(batches=stats.batches, images=sum(part.images for part in parts), seconds=stats.seconds,
                         sums=sums)


def write_history(paths: RunPaths, record: dict[str, float]) -> None:
    """Append the epoch's record to ``history.jsonl`` and rewrite ``history.csv`` from it."""
    with paths.history.open("a") as history:
        history.write(json.dumps(record) + "\n")
    rows = [json.loads(line) for line in paths.history.read_text().splitlines() if line.strip()]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with paths.history_csv.open("w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


EpochHook = Callable[[int, dict[str, float], nn.Module], None]
"""Called after each epoch with (epoch number from 1, the epoch's history record, the model in training mode)."""


def train(config: RunConfig, out: str, train_set: Dataset, resume: bool = False, progress: bool = True,
          log: Callable[[str], None] = print, validation: Dataset | None = None,
          on_epoch: EpochHook | None = None) -> RunPaths:
    """Train ``config`` on ``train_set``, writing ``out/`` (config, checkpoint, history).

    With a ``validation`` set, each epoch's record also holds ``val_mse`` (:func:`validation_mse`). ``out`` is
    locked while training (:func:`~neurovae.io.lock_folder`): two trainings writing one run would corrupt it.
    Under torchrun every process calls this; rank 0 locks and writes ``out``. ``on_epoch`` runs on rank 0 after
    each epoch is recorded, so loggers (:mod:`neurovae.train.tensorboard`) stay out of the loop; one that draws
    random numbers must fork the RNG, or resuming would no longer repeat the run exactly.
    """
    group = distributed.join(pick_device(config.train.device))  # the group's backend follows the device's kind
    try:
        if not group.main:
            return _train(config, RunPaths(Path(out)), train_set, resume, False, lambda _: None, validation, group)
        with lock_folder(out, "wait for it to end, or train into another --out"):
            return _train(config, RunPaths(Path(out)), train_set, resume, progress, log, validation, group, on_epoch)
    finally:
        distributed.leave(group)


def _train(config: RunConfig, paths: RunPaths, train_set: Dataset, resume: bool, progress: bool,
           log: Callable[[str], None], validation: Dataset | None, group: distributed.Group,
           on_epoch: EpochHook | None = None) -> RunPaths:
    """:func:`train` once ``paths.root`` is locked (by rank 0)."""
    device = pick_device(config.train.device, group.local_rank if group.world > 1 else None)
    seed_everything(config.train.seed + group.rank)
    model = build_model(config).to(device)
    if group.world > 1:  # before the optimizer takes the parameters: batch norms over the global batch
        distributed.convert_batch_norms(model)
    optimizer = build_optimizer(model, config)
    start_epoch, done = 0, EpochProgress()
    if resume and paths.checkpoint.is_file():
        state = load_checkpoint(paths.checkpoint)
        restore_state(paths.checkpoint, model, optimizer, state,
                      "train into a new --out, or drop --resume to start this run over")
        start_epoch = state["epoch"]
        ranks = state.get("ranks", [{"rng": state["rng"], "epoch_progress": state.get("epoch_progress", {})}])
        if len(ranks) == group.world:  # else: a new process count continues with fresh per-process seeds
            set_rng_state(ranks[group.rank]["rng"])
            done = EpochProgress(**ranks[group.rank]["epoch_progress"])
        log(f"resuming {paths.root} after epoch {start_epoch}" + (f", batch {done.batches}" if done.batches else ""))
    if group.main:
        if start_epoch == 0:
            paths.history.unlink(missing_ok=True)
            paths.history_csv.unlink(missing_ok=True)
        init_run(paths.root, config)
    if config.train.qat:
        from neurovae.train.qat import FixedPointForward

        FixedPointForward(model)  # hooks for the whole run: every forward is the exported fixed-point network's
    parallel = model if group.world == 1 else DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)
    step_model = torch.compile(parallel) if config.train.compile else parallel

    def step(images: torch.Tensor) -> dict[str, torch.Tensor]:
        return model.loss(images, step_model(images))

    every = config.train.checkpoint_every

    def checkpoint(epoch: int, progress_so_far: EpochProgress | None = None) -> None:
        """Every process's RNG state (and progress) into rank 0's checkpoint: a collective, all ranks call it."""
        mine = {"rng": rng_state(), "epoch_progress": dataclasses.asdict(progress_so_far or EpochProgress())}
        ranks = distributed.gather_objects(mine)
        if group.main:
            extra = {"ranks": ranks, **({"epoch_progress": mine["epoch_progress"]} if progress_so_far else {})}
            save_checkpoint(paths, model, optimizer, epoch, extra)

    def mid_epoch_checkpoint(epoch: int, total: int) -> Callable[[EpochProgress], None]:
        def save(progress_so_far: EpochProgress) -> None:
            if every and progress_so_far.batches % every == 0 and progress_so_far.batches < total:
                checkpoint(epoch, progress_so_far)
                log(f"epoch {epoch + 1}: {progress_so_far.batches}/{total} batches, "
                    + ", ".join(f"{k} {v:.4f}" for k, v in progress_so_far.means().items())
                    + f" ({progress_so_far.images / progress_so_far.seconds:.1f} images/s), checkpoint saved")

        return save

    for epoch in range(start_epoch, config.train.epochs):
        if hasattr(model, "start_epoch"):  # a training schedule that follows the epoch (FSVAE's scheduled sampling)
            model.start_epoch(epoch, config.train.epochs)
        batches = [group.shard(batch) for batch in epoch_batches(train_set, config, epoch)]
        # the loader's own generator keeps it from drawing on the global RNG, which a mid-epoch resume restores
        loader = DataLoader(train_set, batch_sampler=batches[done.batches:], num_workers=config.train.num_workers,
                            generator=torch.Generator().manual_seed(epoch))
        stats = group_progress(train_epoch(model, loader, optimizer, device, step, epoch, progress, done,
                                           len(batches), mid_epoch_checkpoint(epoch, len(batches))))
        record = {"epoch": epoch + 1, **stats.means(), "images": stats.images, "seconds": round(stats.seconds, 3),
                  "images_per_s": round(stats.images / stats.seconds, 2)}
        if validation is not None and group.main:  # before the checkpoint: a run stopped while validating redoes
            record["val_mse"] = validation_mse(model, validation, device, config.train.batch_size)  # the epoch's end
        group.barrier()
        checkpoint(epoch + 1)
        if group.main:
            write_history(paths, record)
            if on_epoch is not None:
                on_epoch(epoch + 1, record, model)
        log(f"epoch {epoch + 1}/{config.train.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in stats.means().items())
            + (f", validation MSE {record['val_mse']:.4f}" if "val_mse" in record else "")
            + f" ({stats.images / stats.seconds:.1f} images/s)")
        done = EpochProgress()
    return paths
