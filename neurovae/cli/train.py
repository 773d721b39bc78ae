"""``neurovae train CONFIG``: train a model, checkpointing every epoch (optionally logging to TensorBoard)."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from neurovae.cli.common import (
    add_data_argument,
    add_out_argument,
    add_precision_argument,
    add_set_argument,
    config_overrides,
    open_dataset,
)
from neurovae.config import load_config

if TYPE_CHECKING:
    from torch.utils.data import Dataset


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    parser = commands.add_parser("train", help="train a model from a YAML config")
    parser.add_argument("config", help="YAML config (see configs/) or a shipped config's name")
    add_data_argument(parser)
    add_out_argument(parser, metavar="RUN", help="run directory (default: runs/<config name>)")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--batch-size", type=int, help="override train.batch_size")
    parser.add_argument("--device", metavar="auto|cpu|cuda|cuda:K",
                        help="override train.device (under torchrun, cuda is each process's own GPU)")
    parser.add_argument("--seed", type=int, help="override train.seed")
    add_set_argument(parser, "override any config key, e.g. --set train.lr=1e-3 --set model.steps=8 (repeatable; "
                     "values read as YAML)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    add_precision_argument(parser, default=None, old_flag="--qat",
                           help="fixed: quantization-aware training (train.qat), every forward in Loihi fixed point "
                                "as exported (with --resume and more --epochs: fine-tune a trained run); default: "
                                "the config's train.qat")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="torch.compile the model (about 3 minutes to compile, then about 1.2x faster on a CPU)")
    parser.add_argument("--tensorboard", metavar="DIR",
                        help="log losses, validation MSE and reconstruction / sample grids every epoch to DIR "
                             "(needs the tensorboard extra: pip install 'neurovae[tensorboard]')")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train as configured."""
    from neurovae.train.loop import train

    qat = None if args.precision is None else args.precision == "fixed"
    config = load_config(args.config, config_overrides(args.settings, {
        "train.epochs": args.epochs, "train.batch_size": args.batch_size, "train.device": args.device,
        "train.seed": args.seed, "data.root": args.data, "train.qat": qat, "train.compile": args.compile,
    }))
    out = args.out or str(Path("runs") / Path(args.config).stem)
    dataset = open_dataset(config, "train", args.data, config.data.train_limit)
    validate = config.train.validate_images
    validation = open_dataset(config, "test", args.data, validate) if validate else None
    main = os.environ.get("RANK", "0") == "0"  # under torchrun, the first process speaks (and logs) for the group
    with _tensorboard(args.tensorboard if main else None, validation or dataset) as on_epoch:
        if main:
            print(f"training {config.model_name} on {len(dataset)} {config.data.dataset} images -> {out}"
                  + (f", validating on {len(validation)} test images after every epoch" if validation else "")
                  + (f", logging to TensorBoard in {args.tensorboard}" if args.tensorboard else ""))
        train(config, out, dataset, resume=args.resume, progress=not args.no_progress, validation=validation,
              on_epoch=on_epoch)
    return 0


def _tensorboard(log_dir: str | None, images: Dataset) -> contextlib.AbstractContextManager:
    """The TensorBoard logger for ``--tensorboard DIR`` (its grids show the first of ``images``), or nothing."""
    if log_dir is None:
        return contextlib.nullcontext()
    from neurovae.train.tensorboard import TensorBoardLogger

    return TensorBoardLogger(log_dir, images)
