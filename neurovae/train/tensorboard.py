"""TensorBoard logging of a training run: each epoch's losses and validation MSE, reconstruction and sample grids.

Optional (``pip install 'neurovae[tensorboard]'``). :class:`TensorBoardLogger` is an ``on_epoch`` hook of
:func:`neurovae.train.loop.train`, which calls it on rank 0 only, so the training loop knows nothing of TensorBoard.
Its pictures are drawn from forked, fixed-seed random streams: a run logged to TensorBoard trains exactly as one
that is not.

Example:
    >>> with TensorBoardLogger("runs/tb/esvae", validation_set) as logger:  # doctest: +SKIP
    ...     train(config, "runs/esvae", train_set, on_epoch=logger)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from neurovae.errors import ConfigError
from neurovae.evaluate.grids import image_grid
from neurovae.io import check_folder

GRID_IMAGES = 8
"""Images per grid row: the inputs above their reconstructions, and as many samples from the prior."""

_NOT_LOSSES = {"epoch": None, "images": None, "val_mse": "validation/mse", "seconds": "speed/seconds",
               "images_per_s": "speed/images_per_s"}
"""Tags of a history record's keys that are not loss terms (None: not logged); every other key is ``loss/KEY``."""


class TensorBoardLogger:
    """Writes an event file in ``log_dir`` on the first epoch; grids show the first images of ``images``."""

    def __init__(self, log_dir: str | os.PathLike, images: Dataset) -> None:
        """Check that TensorBoard is installed and ``log_dir`` can be made, before any training time is spent."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: pip install 'neurovae[tensorboard]'") \
                from None
        check_folder(log_dir)
        self.log_dir, self._open = Path(log_dir), SummaryWriter
        self.images = torch.stack([images[i][0] for i in range(min(GRID_IMAGES, len(images)))])
        self.writer: Any = None  # made on the first epoch: a failed start leaves no event file

    def __call__(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
        """Log one epoch's record and grids at step ``epoch``."""
        if self.writer is None:
            self.writer = self._open(str(self.log_dir))
        for key, value in record.items():
            tag = _NOT_LOSSES.get(key, f"loss/{key}")
            if tag is not None:
                self.writer.add_scalar(tag, value, epoch)
        for tag, images in self.pictures(model).items():
            self.writer.add_image(tag, image_grid(images, len(self.images)), epoch, dataformats="HWC")
        self.writer.flush()

    @torch.no_grad()
    def pictures(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The inputs above their reconstructions, and (for a generative model) samples from the prior, on the CPU."""
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(0)
            images = self.images.to(device)
            pictures = {"reconstructions": torch.cat([images, model(images).reconstruction])}
            if hasattr(model, "sample"):
                generator = torch.Generator(device=device).manual_seed(0)
                pictures["samples"] = model.sample(len(images), generator)
        model.train(was_training)
        return {tag: images.cpu() for tag, images in pictures.items()}

    def close(self) -> None:
        """Write what is buffered and close the event file."""
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> TensorBoardLogger:
        """The logger itself, closed on leaving the block."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the event file."""
        self.close()
