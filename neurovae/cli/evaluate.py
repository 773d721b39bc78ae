"""``neurovae eval RUN`` and ``neurovae fad-fit``: metrics, image grids and the FAD autoencoder."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurovae.cli.common import (
    add_data_argument,
    add_force_argument,
    add_out_argument,
    add_precision_argument,
    add_samples_argument,
    add_set_argument,
    check_output,
    config_overrides,
    open_dataset,
)
from neurovae.evaluate.fad import default_fad_path

EVAL_SETTINGS = ("data.", "train.eval_samples", "train.seed")
"""Config keys ``eval --set`` may change: which test data, how much of it, the seed of sampling. The model and its
training are fixed by the checkpoint."""


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``eval`` and ``fad-fit``."""
    parser = commands.add_parser("eval", help="evaluate a trained run: metrics.json and image grids")
    parser.add_argument("run", metavar="RUN", help="run directory written by `neurovae train`")
    add_data_argument(parser)
    add_out_argument(parser, help="output folder (default: RUN/eval, or RUN/eval-fixed with --precision fixed)")
    parser.add_argument("--fad", metavar="FILE", help="FAD autoencoder (default: fad/<dataset>-<size>.pt beside "
                        "RUN, as `neurovae demo` writes it, else runs/fad/<dataset>-<size>.pt)")
    add_samples_argument(parser, help="test images to use (default: train.eval_samples)")
    parser.add_argument("--probe-images", type=int, default=10000, help="training images for the linear probe")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_precision_argument(parser, old_flag="--fixed-point",
                           help="fixed: evaluate the deployed network, every forward in Loihi fixed point as exported "
                                "(the emulator, bit-exact with Lava fixed_pt) (default float)")
    add_set_argument(parser, "override a config key for this evaluation: data.*, train.eval_samples or train.seed, "
                     "e.g. --set data.test_limit=500 (repeatable; values read as YAML)")
    add_force_argument(parser)
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(handler=run_eval)

    fit = commands.add_parser("fad-fit", help="train the autoencoder used for the Fréchet Autoencoder Distance")
    fit.add_argument("config", help="a model config (its data section picks the dataset)")
    add_data_argument(fit)
    add_out_argument(fit, help="output file (default: runs/fad/<dataset>-<size>.pt)")
    fit.add_argument("--epochs", type=int, default=30)
    fit.add_argument("--limit", type=int, help="use the first N training images")
    fit.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_force_argument(fit)
    fit.add_argument("--no-progress", action="store_true")
    fit.set_defaults(handler=run_fad_fit)


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate a run and print its metrics."""
    from neurovae.config import load_config
    from neurovae.evaluate.compare import images_seen
    from neurovae.evaluate.fad import fad_candidates
    from neurovae.evaluate.psnr_variants import PAPER_PSNR_MODELS
    from neurovae.evaluate.run_eval import evaluate_run
    from neurovae.io import strict_json
    from neurovae.runs import restore_model
    from neurovae.train.checkpoint import open_run
    from neurovae.train.loop import pick_device

    paths, config, state = open_run(args.run)
    settings = config_overrides(args.settings, {"data.root": args.data, "train.eval_samples": args.samples},
                                allowed=EVAL_SETTINGS)
    config = load_config(paths.config, settings) if settings else config
    fixed = args.precision == "fixed"
    out = Path(args.out) if args.out else paths.root / ("eval-fixed" if fixed else "eval")
    check_output(out, force=args.force, folder=True)
    device = pick_device(args.device)
    model = restore_model(paths, config, state).to(device)
    if fixed:
        from neurovae.train.qat import FixedPointForward

        FixedPointForward(model)
    count = config.train.eval_samples  # -n, checked like the config key
    test_set = open_dataset(config, "test", args.data, min(count, config.data.test_limit or count))
    probe_set = open_dataset(config, "train", args.data, args.probe_images) if args.probe_images > 0 else None
    places = [Path(args.fad)] if args.fad else fad_candidates(paths.root, config.data.dataset, config.data.image_size)
    fad_path = next((place for place in places if place.is_file()), None)
    if fad_path is None:
        print(f"FAD skipped: no autoencoder at {' or '.join(map(str, places))}; run `neurovae fad-fit CONFIG` first")
    about = {"epochs_trained": state["epoch"], "images_seen": images_seen(paths.root, state),
             "precision": args.precision}
    metrics = evaluate_run(model, test_set, probe_set, out, fad_path, seed=config.train.seed,
                           progress=not args.no_progress, about=about,
                           paper_psnr_variants=config.model_name in PAPER_PSNR_MODELS)
    print(strict_json(metrics))
    grids = ("reconstructions.png", "samples.png") if hasattr(model, "sample") else ("reconstructions.png",)
    print(f"wrote {out / 'metrics.json'}, " + ", ".join(str(out / grid) for grid in grids))
    return 0


def run_fad_fit(args: argparse.Namespace) -> int:
    """Fit and save the FAD autoencoder for a config's dataset."""
    from neurovae.config import load_config
    from neurovae.evaluate.fad import fit_fad_autoencoder, save_fad_autoencoder
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
