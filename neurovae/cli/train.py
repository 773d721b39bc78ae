"""``neurovae train CONFIG``: train a model, checkpointing every epoch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from neurovae.cli.common import add_data_argument, open_dataset, overrides
from neurovae.config import load_config


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    parser = commands.add_parser("train", help="train a model from a YAML config")
    parser.add_argument("config", help="YAML config (see configs/)")
    add_data_argument(parser)
    parser.add_argument("--out", metavar="RUN", help="run directory (default: runs/<config name>)")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--batch-size", type=int, help="override train.batch_size")
    parser.add_argument("--device", metavar="auto|cpu|cuda|cuda:K",
                        help="override train.device (under torchrun, cuda is each process's own GPU)")
    parser.add_argument("--seed", type=int, help="override train.seed")
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    parser.add_argument("--qat", action="store_true", default=None,
                        help="quantization-aware: forward in Loihi fixed point as exported (with --resume and more "
                             "--epochs: fine-tune a trained run)")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="torch.compile the model (about 3 minutes to compile, then about 1.2x faster on a CPU)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Train as configured."""
    from neurovae.train.loop import train

    config = load_config(args.config, overrides(**{
        "train.epochs": args.epochs, "train.batch_size": args.batch_size, "train.device": args.device,
        "train.seed": args.seed, "data.root": args.data, "train.qat": args.qat, "train.compile": args.compile,
    }))
    out = args.out or str(Path("runs") / Path(args.config).stem)
    dataset = open_dataset(config, "train", args.data, config.data.train_limit)
    validate = config.train.validate_images
    validation = open_dataset(config, "test", args.data, validate) if validate else None
    if os.environ.get("RANK", "0") == "0":  # under torchrun, the first process speaks for the group
        print(f"training {config.model_name} on {len(dataset)} {config.data.dataset} images -> {out}"
              + (f", validating on {len(validation)} test images after every epoch" if validation else ""))
    train(config, out, dataset, resume=args.resume, progress=not args.no_progress, validation=validation)
    return 0
