"""Run directories and atomic checkpoints (model, optimizer, RNG states: exact resume)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurovae.config import RunConfig, load_config, save_config
from neurovae.errors import CheckpointError
from neurovae.io import atomic_path, make_folder

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.yaml"


@dataclass
class RunPaths:
    """The files of one run directory."""

    root: Path

    @property
    def checkpoint(self) -> Path:
        """Latest checkpoint (rewritten atomically after every epoch)."""
        return self.root / CHECKPOINT

    @property
    def config(self) -> Path:
        """The resolved config the run was trained with."""
        return self.root / CONFIG

    @property
    def history(self) -> Path:
        """One JSON line of training metrics per epoch."""
        return self.root / "history.jsonl"

    @property
    def history_csv(self) -> Path:
        """The same history as CSV, one row per epoch, for spreadsheets and plotting tools."""
        return self.root / "history.csv"


def rng_state() -> dict[str, Any]:
    """Every random generator a training step draws from."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save_checkpoint(paths: RunPaths, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    epoch: int, extra: dict[str, Any] | None = None) -> None:
    """Write the checkpoint after ``epoch`` completed epochs (temp file + rename)."""
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "rng": rng_state(),
        **(extra or {}),
    }
    with atomic_path(paths.checkpoint) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file; missing or corrupt files give a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; train first with `neurovae train CONFIG --out RUN`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for corrupt files
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(error).__name__}); re-train or restore it"
        ) from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise CheckpointError(f"{path} is not a neurovae checkpoint (no model/epoch entries)")
    return state


def restore_state(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                  state: dict[str, Any], hint: str) -> None:
    """Load a checkpoint's model (and optimizer) state; one that does not fit is a one-line CheckpointError.

    ``hint`` says what to do instead (e.g. ``"train into a new --out"``).
    """
    try:
        model.load_state_dict(state["model"])
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        detail = next((line.strip() for line in str(error).splitlines()[1:] if line.strip()), str(error).strip())
        raise CheckpointError(f"{path} does not fit the configured model ({detail[:200]}); {hint}") from None


def open_run(run: str | os.PathLike) -> tuple[RunPaths, RunConfig, dict[str, Any]]:
    """Resolve a run directory (or its checkpoint file) to ``(paths, config, checkpoint state)``."""
    run = Path(run)
    root = run.parent if run.is_file() else run
    paths = RunPaths(root)
    if not root.is_dir():
        raise CheckpointError(f"run directory {root} not found; train first with `neurovae train CONFIG --out {root}`")
    if not paths.config.is_file():
        raise CheckpointError(f"{root} has no {CONFIG}; is it a run directory made by `neurovae train`?")
    return paths, load_config(paths.config), load_checkpoint(run if run.is_file() else paths.checkpoint)


def init_run(root: str | os.PathLike, config: RunConfig) -> RunPaths:
    """Create a run directory and save its resolved config."""
    paths = RunPaths(make_folder(root))
    save_config(config, paths.config)
    return paths
