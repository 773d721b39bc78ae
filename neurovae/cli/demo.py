"""``neurovae demo``: the whole pipeline on Fashion-MNIST in minutes on a CPU.

Trains the small ESVAE (``configs/esvae_fmnist_small.yaml``), fits the FAD autoencoder, evaluates
(metrics.json, reconstruction and sample grids), exports encoder and decoder to netx HDF5, runs them in
the Lava simulator (the decoder on prior samples, and encoder -> host sampling -> decoder on test images),
reports the energy of the exported model (operations counted on test images with the emulator, priced on Loihi
and against the same network as an ANN), runs a short sleep on Lava's learning engine (the sleep phase of Tadros
et al. 2019 on a Diehl & Cook STDP network, checked against the same sleep in PyTorch), and ends with VAE-sleep
(Talafha et al. 2020) of a briefly trained CVAE as Loihi would run it: Table 3's sleep in 8-bit fixed point on
the emulator that is bit-exact with Lava's ``fixed_pt`` learning engine, the slept model written as a run. Each
stage prints what it wrote.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from neurovae import resources
from neurovae.cli.common import (
    add_data_argument,
    add_force_argument,
    add_out_argument,
    check_output,
    open_dataset,
    overrides,
)
from neurovae.errors import ConfigError

CONFIGS = resources.folder("configs")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``demo``."""
    parser = commands.add_parser("demo", help="train, evaluate (and deploy) a small ESVAE on Fashion-MNIST")
    add_data_argument(parser)
    add_out_argument(parser, default="runs/demo", help="output folder (default: runs/demo); the FAD "
                     "autoencoder in its fad/ is the one `neurovae eval` finds for the run beside it")
    parser.add_argument("--config", default=str(CONFIGS / "esvae_fmnist_small.yaml"))
    parser.add_argument("--epochs", type=int, help="override the demo's training epochs")
    parser.add_argument("--train-images", type=int, help="override the number of training images")
    parser.add_argument("--lava-samples", type=int, default=8, help="samples run in the Lava simulator (0: skip)")
    parser.add_argument("--energy-samples", type=int, default=128,
                        help="test images counted for the energy report (0: skip)")
    parser.add_argument("--sleep-steps", type=int, default=200,
                        help="steps of the STDP sleep run on Lava's learning engine (0: skip)")
    parser.add_argument("--vae-sleep-steps", type=int, default=4800,
                        help="steps of the fixed-point VAE-sleep of a small CVAE, trained here on its own 5,000 "
                             "images for 1 epoch (--epochs and --train-images are the ESVAE's; Table 3: 48,000; "
                             "0: skip)")
    add_force_argument(parser)
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run every stage of the demo."""
    from neurovae.config import load_config
    from neurovae.evaluate.compare import images_seen
    from neurovae.evaluate.fad import default_fad_path, fit_fad_autoencoder, save_fad_autoencoder
    from neurovae.evaluate.run_eval import evaluate_run
    from neurovae.train.loop import train

    if not Path(args.config).is_file():
        raise ConfigError(f"demo config {args.config} not found; run from a neurovae checkout or pass --config")
    check_output(args.out, force=args.force, folder=True)
    config = load_config(args.config, overrides(**{"train.epochs": args.epochs, "data.train_limit": args.train_images,
                                                   "data.root": args.data}))
    out, progress, start = Path(args.out), not args.no_progress, time.perf_counter()
    train_set = open_dataset(config, "train", args.data, config.data.train_limit)
    test_set = open_dataset(config, "test", args.data, config.data.test_limit)

    print(f"[1/7] training {config.model_name} on {len(train_set)} {config.data.dataset} images")
    run_dir = out / "run"
    train(config, str(run_dir), train_set, progress=progress)
    from neurovae.runs import restore_model
    from neurovae.train.checkpoint import open_run

    paths, _, checkpoint = open_run(run_dir)
    model = restore_model(paths, config, checkpoint)

    print("[2/7] fitting the FAD autoencoder")
    fad_path = out / "fad" / default_fad_path(config.data.dataset, config.data.image_size).name  # where eval looks
    fad_model = fit_fad_autoencoder(train_set, train_set.channels, train_set.image_size, epochs=5, progress=progress)
    save_fad_autoencoder(fad_model, fad_path, metadata={"dataset": config.data.dataset, "images": len(train_set)})

    print("[3/7] evaluating")
    about = {"epochs_trained": config.train.epochs, "images_seen": images_seen(run_dir, checkpoint),
             "precision": "float"}
    metrics = evaluate_run(model, test_set, train_set, run_dir / "eval", fad_path, seed=config.train.seed,
                           progress=progress, about=about)
    print(json.dumps(metrics, indent=2))
    print("[4/7] exporting to netx" + (" and running in the Lava simulator (floating point)"
                                       if args.lava_samples > 0 else ""))
    paths = deploy_to_lava(model, config, out / "lava", args.lava_samples, args.data, progress)
    if args.energy_samples > 0:
        print(f"[5/7] energy report: {args.energy_samples} test images through encoder and decoder (emulator)")
        energy_report(paths, out / "energy.json", args.energy_samples, args.data, progress)
    if args.sleep_steps > 0:
        print(f"[6/7] sleep on Lava's learning engine: {args.sleep_steps} steps of STDP sleep (Tadros et al. 2019)")
        sleep_on_lava(out / "sleep_on_lava.json", args.sleep_steps, args.data)
    if args.vae_sleep_steps > 0:
        print(f"[7/7] VAE-sleep of a small CVAE in Loihi fixed point: {args.vae_sleep_steps} steps of Table 3's sleep "
              "on the emulator (bit-exact with Lava fixed_pt)")
        vae_sleep_in_fixed_point(out, args.vae_sleep_steps, args.data, progress)
    print(f"demo done in {time.perf_counter() - start:.0f} s; see {run_dir / 'eval'}")
    return 0


def deploy_to_lava(model, config, out: Path, samples: int, data_dir: str | None, progress: bool) -> dict[str, Path]:
    """Export encoder and decoder, run prior samples and test reconstructions in Lava; print what was written."""
    from neurovae.cli.deploy import export_paths, save_run_grid
    from neurovae.config import config_to_dict
    from neurovae.export import export_to_file
    from neurovae.simulate.pipeline import simulate_files

    model.eval()
    paths = export_paths(str(out / "esvae"), "full")
    for part, path in paths.items():
        export_to_file(model, part, path, model_config=config_to_dict(config))
        print(f"wrote {path}")
    if samples > 0:
        for report in (simulate_files([paths["decoder"]], "prior", count=samples, out=out / "prior_samples.npz",
                                      progress=progress),
                       simulate_files([paths["encoder"], paths["decoder"]], "dataset", count=max(1, samples // 2),
                                      data_dir=data_dir, out=out / "reconstructions.npz", progress=progress)):
            print(report)
            save_run_grid(report)
    return paths


def energy_report(paths: dict[str, Path], out: Path, samples: int, data_dir: str | None, progress: bool) -> None:
    """Count the exported encoder -> decoder on test images with the emulator; print and write the report."""
    from neurovae.energy import energy_reports, write_reports
    from neurovae.netx import read_netx
    from neurovae.simulate.host import resolve_input

    networks = [read_netx(paths[part]) for part in ("encoder", "decoder")]
    images = resolve_input("dataset", networks[0], samples, 0, data_dir)
    reports = energy_reports([paths[part].name for part in ("encoder", "decoder")], networks, images,
                             progress=progress)
    for report in reports:
        print(report.table())
    print("wrote {} and {}".format(*write_reports(reports, out)))


def sleep_on_lava(out: Path, steps: int, data_dir: str | None) -> None:
    """Sleep a Diehl & Cook network (784 -> 100) on Lava's LearningDense from the mean Fashion-MNIST image.

    The sleep setting is the one that helped on MNIST. The same sleep runs in PyTorch; the two must agree spike
    for spike.
    """
    import json

    from neurovae.data import load_dataset
    from neurovae.io import atomic_path
    from neurovae.sleep.stdp_network import NetworkParams
    from neurovae.sleep.stdp_network.lava.network import sleep_on_lava as run_sleep
    from neurovae.sleep.stdp_network.params import MNIST_SLEEP

    images = load_dataset("fashion_mnist", data_dir, "train", image_size=28, limit=1000)
    mean_image = (sum(images[i][0] for i in range(len(images))) / len(images) + 1) / 2  # [-1, 1] -> [0, 1]
    check = run_sleep(NetworkParams(), MNIST_SLEEP, mean_image.numpy(), steps)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(check, indent=1) + "\n")
    verdict = "the same spikes and weights as PyTorch" if check["spikes_equal"] else "DIFFERENT spikes from PyTorch"
    print(f"Lava slept {check['synapses']} plastic synapses for {check['steps']} steps in "
          f"{check['lava_seconds']:.0f} s: {check['excitatory_spikes']} spikes, weights moved by up to "
          f"{check['max_weight_change']:.2e}, {verdict} (largest weight difference "
          f"{check['max_weight_difference']:.1e}); wrote {out}")
    print("  a mechanism check of the sleep that helped on MNIST (halved inhibition, thresholds decaying over 20 s: "
          "accuracy 0.49 -> 0.59 after 1,000 images; docs/tadros.md); a whole sleep is 20,000 steps")


def vae_sleep_in_fixed_point(out: Path, steps: int, data_dir: str | None, progress: bool) -> None:
    """Train ``cvae_fmnist_small`` for one epoch on 5,000 images, sleep it in fixed point, compare reconstructions."""
    import torch

    from neurovae.config import load_config
    from neurovae.evaluate.latent_noise import latent_codes
    from neurovae.evaluate.quality import psnr
    from neurovae.progress import sample_bar
    from neurovae.runs import load_run
    from neurovae.sleep.report import sleep_table
    from neurovae.sleep.run import save_slept_run, sleep_model, table3_config
    from neurovae.sleep.vae_sleep import sleep_steps
    from neurovae.train.loop import train

    config = load_config(CONFIGS / "cvae_fmnist_small.yaml",
                         overrides(**{"train.epochs": 1, "data.train_limit": 5000, "data.root": data_dir}))
    train_set = open_dataset(config, "train", data_dir, config.data.train_limit)
    test_set = open_dataset(config, "test", data_dir, 500)
    train(config, str(out / "cvae"), train_set, progress=progress)
    model, _ = load_run(out / "cvae")
    images = torch.stack([train_set[i][0] for i in range(min(2000, len(train_set)))])
    sleep_config = table3_config(config.data.dataset, duration=steps)
    with sample_bar(sleep_steps(sleep_config), progress, "sleep (emulator, fixed point)", unit="step") as bar:
        slept, summary = sleep_model(model, images, sleep_config, "emulator", lambda: bar.update(), precision="fixed")
    slept_run = save_slept_run(out / "cvae-slept", config, slept, config.train.epochs, summary, source=out / "cvae")
    quality = []
    for network in (model, slept):
        codes = latent_codes(network, test_set)
        quality.append(psnr(network.decode(codes["codes"]), codes["images"]))
    print(sleep_table(summary["layers"]))
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    print("(a mechanism check: Table 3's sleep on a 1-epoch CVAE, run as Loihi would; it is not tuned to help)")
    print(f"test PSNR {quality[0]:.2f} dB before sleep, {quality[1]:.2f} dB after ({len(test_set)} images); on "
          f"Loihi 1 the sleep would cost {summary['energy']['totals']['snn_pj'] / 1e6:.1f} µJ; wrote {slept_run} "
          f"(evaluate it with `neurovae eval {slept_run}`)")
