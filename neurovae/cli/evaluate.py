"""``neurovae eval RUN`` and ``neurovae fad-fit``: metrics, image grids and the FAD autoencoder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neurovae.cli.common import add_data_argument, add_force_argument, check_output, open_dataset


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``eval`` and ``fad-fit``."""
    parser = commands.add_parser("eval", help="evaluate a trained run: metrics.json and image grids")
    parser.add_argument("run", metavar="RUN", help="run directory written by `neurovae train`")
    add_data_argument(parser)
    parser.add_argument("--out", help="output folder (default: RUN/eval)")
    parser.add_argument("--fad", metavar="FILE", help="FAD autoencoder (default: runs/fad/<dataset>-<size>.pt)")
    parser.add_argument("-n", "--samples", type=int, help="test images to use (default: train.eval_samples)")
    parser.add_argument("--probe-images", type=int, default=10000, help="training images for the linear probe")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--fixed-point", action="store_true",
                        help="evaluate the deployed network: every forward in Loihi fixed point as exported "
                             "(the emulator, bit-exact with Lava fixed_pt); default output RUN/eval-fixed")
    add_force_argument(parser)
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(handler=run_eval)

    fit = commands.add_parser("fad-fit", help="train the autoencoder used for the Fréchet Autoencoder Distance")
    fit.add_argument("config", help="a model config (its data section picks the dataset)")
    add_data_argument(fit)
    fit.add_argument("-o", "--out", help="output file (default: runs/fad/<dataset>-<size>.pt)")
    fit.add_argument("--epochs", type=int, default=30)
    fit.add_argument("--limit", type=int, help="use the first N training images")
    fit.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_force_argument(fit)
    fit.add_argument("--no-progress", action="store_true")
    fit.set_defaults(handler=run_fad_fit)


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate a run and print its metrics."""
    from neurovae.evaluate.compare import images_seen
    from neurovae.evaluate.fad import default_fad_path
    from neurovae.evaluate.run_eval import evaluate_run
    from neurovae.train.checkpoint import open_run, restore_state
    from neurovae.train.loop import build_model, pick_device

    paths, config, state = open_run(args.run)
    out = Path(args.out) if args.out else paths.root / ("eval-fixed" if args.fixed_point else "eval")
    check_output(out, force=args.force, folder=True)
    device = pick_device(args.device)
    model = build_model(config)
    restore_state(paths.checkpoint, model, None, state, f"was {paths.config} edited after training?")
    model.to(device)
    if args.fixed_point:
        from neurovae.train.qat import FixedPointForward

        FixedPointForward(model)
    count = args.samples or config.train.eval_samples
    test_set = open_dataset(config, "test", args.data, min(count, config.data.test_limit or count))
    probe_set = open_dataset(config, "train", args.data, args.probe_images) if args.probe_images > 0 else None
    fad_path = Path(args.fad) if args.fad else default_fad_path(config.data.dataset, config.data.image_size)
    if not fad_path.is_file():
        print(f"FAD skipped: no autoencoder at {fad_path}; run `neurovae fad-fit CONFIG` first")
    about = {"epochs_trained": state["epoch"], "images_seen": images_seen(paths.root, state),
             "precision": "fixed" if args.fixed_point else "float"}
    metrics = evaluate_run(model, test_set, probe_set, out, fad_path, seed=config.train.seed,
                           progress=not args.no_progress, about=about)
    print(json.dumps(metrics, indent=2))
    grids = ("reconstructions.png", "samples.png") if hasattr(model, "sample") else ("reconstructions.png",)
    print(f"wrote {out / 'metrics.json'}, " + ", ".join(str(out / grid) for grid in grids))
    return 0


def run_fad_fit(args: argparse.Namespace) -> int:
    """Fit and save the FAD autoencoder for a config's dataset."""
    from neurovae.config import load_config
    from neurovae.evaluate.fad import default_fad_path, fit_fad_autoencoder, save_fad_autoencoder
    from neurovae.train.loop import pick_device

    config = load_config(args.config)
    out = Path(args.out) if args.out else default_fad_path(config.data.dataset, config.data.image_size)
    check_output(out, force=args.force)
    dataset = open_dataset(config, "train", args.data, args.limit)
    model = fit_fad_autoencoder(dataset, dataset.channels, dataset.image_size, epochs=args.epochs,
                                device=pick_device(args.device), progress=not args.no_progress)
    save_fad_autoencoder(model, out, metadata={"dataset": config.data.dataset, "images": len(dataset)})
    print(f"wrote {out} (final MSE {model.metadata['final_loss']:.4f})")
    return 0
