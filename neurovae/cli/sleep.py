"""``neurovae sleep RUN``: VAE-sleep (Talafha 2020) of a trained CVAE-like run, written as a new run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neurovae.cli.common import add_data_argument, add_force_argument, check_output, open_dataset

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.data import Dataset

    from neurovae.config import RunConfig
    from neurovae.sleep.vae_sleep import VAESleepConfig
    from neurovae.train.checkpoint import RunPaths

OPTIONS = {  # command-line flag -> VAESleepConfig field (unset flags keep Table 3's value)
    "duration": "duration", "batch": "batch", "steps_per_image": "steps_per_image", "input_rate": "input_rate_hz",
    "thresholds": "thresholds", "ampa": "ampa_scale", "a_ltp": "a_ltp", "a_ltd": "a_ltd", "w_lb": "w_lb",
    "w_ub": "w_ub", "seed": "seed", "leak": "leak",
}


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``sleep``."""
    parser = commands.add_parser("sleep", help="VAE-sleep: mirrored STDP on the spiking copy of a trained CVAE")
    parser.add_argument("run", metavar="RUN", help="run directory of a trained cvae / vsc")
    parser.add_argument("--backend", choices=("torch", "emulator", "lava"),
                        help="torch (default): batched PyTorch (float, shared convolution weights); emulator: Loihi's "
                             "fixed point as Lava runs it, bit for bit, in PyTorch; lava: Lava's learning engine (CPU; "
                             "slow: short sleeps)")
    parser.add_argument("--precision", choices=("float", "fixed"),
                        help="floating point (torch, lava) or Loihi's 8-bit fixed point (emulator, lava); default: "
                             "fixed for the emulator, float otherwise")
    parser.add_argument("-o", "--out", metavar="NEWRUN", help="slept run directory (default: RUN-slept; with --search: "
                        "the search's folder, default RUN-sleep-search)")
    add_force_argument(parser)
    add_data_argument(parser)
    parser.add_argument("--duration", type=int, help="images presented (Table 3: 48,000; CelebA 200,600)")
    parser.add_argument("--batch", type=int, help="chains sleeping side by side (torch only; default 1)")
    parser.add_argument("--steps-per-image", type=int, help="steps each image is shown (default 1)")
    parser.add_argument("--input-rate", type=float, help="maximum input rate in Hz (Table 3: 40; CelebA 500)")
    parser.add_argument("--thresholds", type=float, nargs="+", help="one firing threshold per sleeping layer")
    parser.add_argument("--ampa", type=float, help="synaptic AMPA scale (Table 3: 2.19)")
    parser.add_argument("--a-ltp", type=float, help="potentiation step")
    parser.add_argument("--a-ltd", type=float, help="depression step")
    parser.add_argument("--w-lb", type=float, help="lower weight bound of the stabilizer")
    parser.add_argument("--w-ub", type=float, help="upper weight bound of the stabilizer")
    parser.add_argument("--leak", type=float, help="fraction of the voltage lost per step (default 0: "
                        "integrate-and-fire, as Algorithm 1; fixed point: whole 1/4096)")
    parser.add_argument("--seed", type=int, help="seed of the image order and the input spikes")
    parser.add_argument("--calibrate", action="store_true",
                        help="tune each layer's threshold to fire at the target rate rho instead of Table 3's")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: sleep's tensors are small, more threads only spin)")
    parser.add_argument("--images", type=int, default=10000, help="training images used (normalization and input)")
    parser.add_argument("--no-progress", action="store_true")
    search = parser.add_argument_group("search (Optuna's TPE on the emulator; see neurovae.sleep.search)")
    search.add_argument("--search", type=int, metavar="N",
                        help="search N settings (threshold scale, input encoding and rate, a_LTP, a_LTD, duration, "
                             "leak) instead of sleeping once; --seed seeds it")
    search.add_argument("--val-images", type=int, default=1000,
                        help="training images after the sleep's, on which each setting is judged (default 1000)")
    search.add_argument("--search-durations", type=int, nargs=2, metavar=("LOW", "HIGH"),
                        help="range of the sleep's duration searched (default 1000 48000)")
    search.add_argument("--test-seeds", type=int, default=3, metavar="K",
                        help="then sleep with the best setting K times (seeds 0..K-1) and compare it with no sleep on "
                             "the test split, with 95%% intervals (default 3; 0: skip)")
    search.add_argument("--test-images", type=int, default=2000,
                        help="test images the best setting is confirmed on (default 2000)")
    parser.set_defaults(handler=run_sleep)


def sleep_settings(args: argparse.Namespace, dataset: str) -> VAESleepConfig:
    """Table 3's column for ``dataset`` with the flags the user gave."""
    from neurovae.sleep.run import table3_config

    chosen = {field: getattr(args, flag) for flag, field in OPTIONS.items() if getattr(args, flag) is not None}
    if "thresholds" in chosen:
        chosen["thresholds"] = tuple(chosen["thresholds"])
    return table3_config(dataset, **chosen)


def labelled(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset's images ``[N, C, H, W]`` and labels ``[N]`` (item by item: CelebA decodes lazily)."""
    import torch

    return (torch.stack([dataset[i][0] for i in range(len(dataset))]),
            torch.as_tensor([dataset[i][1] for i in range(len(dataset))]))


def load_model(args: argparse.Namespace, suffix: str) -> tuple[RunPaths, RunConfig, dict[str, Any], nn.Module, Path]:
    """The run's paths, config, state and trained model, and the output folder (default: RUN + ``suffix``).

    Refuses a run of another model and an output in the way before the model is loaded, and a model that cannot
    convert (a layer with a bias, say) before any training image is read.
    """
    import torch

    from neurovae.runs import restore_model
    from neurovae.sleep.convert import sleep_layers
    from neurovae.sleep.run import check_model
    from neurovae.train.checkpoint import open_run

    torch.set_num_threads(args.threads)
    paths, config, state = open_run(args.run)
    check_model(paths.root, config.model_name)
    out = Path(args.out) if args.out else paths.root.with_name(paths.root.name + suffix)
    check_output(out, force=args.force, folder=True)
    model = restore_model(paths, config, state)
    sleep_layers(model)  # a ConversionError naming the layer, in one line
    return paths, config, state, model, out


def run_sleep(args: argparse.Namespace) -> int:
    """Sleep a run and save the slept model as a new run (or, with ``--search``, search the sleep's settings)."""
    if args.search is not None:
        from neurovae.cli.sleep_search import run_search_command

        return run_search_command(args)

    from neurovae.progress import sample_bar  # a bar that leaves the start method free for Lava
    from neurovae.sleep.report import sleep_table
    from neurovae.sleep.run import check_backend, default_precision, save_slept_run, sleep_model
    from neurovae.sleep.vae_sleep import sleep_steps

    backend = args.backend or "torch"
    paths, config, state, model, out = load_model(args, "-slept")
    sleep_config = sleep_settings(args, config.data.dataset)
    precision = args.precision or default_precision(backend)
    check_backend(backend, precision, sleep_config.batch)
    dataset = open_dataset(config, "train", args.data, args.images)
    images, _ = labelled(dataset)
    with sample_bar(sleep_steps(sleep_config), not args.no_progress, f"sleep ({backend}, {precision})",
                    unit="step") as bar:
        slept, summary = sleep_model(model, images, sleep_config, backend, lambda: bar.update(), args.calibrate,
                                     precision, notice=bar.write)
    save_slept_run(out, config, slept, state["epoch"], summary, source=paths.root)
    print(sleep_table(summary["layers"]))
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if "energy" in summary:
        energy = summary["energy"]
        print(f"on Loihi 1 this sleep would cost {energy['totals']['snn_pj'] / 1e6:.1f} µJ per chain "
              f"({sum(layer['synaptic_ops'] for layer in energy['layers']):.3g} synaptic ops, "
              f"{sum(layer['synaptic_updates'] for layer in energy['layers']):.3g} synaptic updates; "
              f"Davies et al. 2018 figures, details in sleep.json)")
    print(f"wrote {out} (every layer's figures in {out / 'sleep.json'}; evaluate it with `neurovae eval {out}`)")
    return 0
