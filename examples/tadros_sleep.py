"""Sleep in an STDP network (Tadros et al. 2019): accuracy before and after sleep vs training size, noise, blur.

Example (Fashion-MNIST, three seeds, on a CPU):

    python examples/tadros_sleep.py --out runs/tadros --seeds 0 1 2 --train-sizes 1000 2000 5000
    python examples/tadros_sleep.py --quick --out /tmp/tadros-quick
    python examples/tadros_sleep.py --data ~/.cache/neurovae/mnist --out runs/tadros-search --search 30 \
        --neurons 400 --train-sizes 1000        # Optuna search of the sleep's settings on held-out images

``--data`` takes any MNIST-format folder (the four IDX files, plain or .gz).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from neurovae.data.idx import load_idx_split
from neurovae.errors import NeurovaeError
from neurovae.io import atomic_path
from neurovae.sleep.search_output import trial_log, write_search
from neurovae.sleep.stdp_network.experiment import (
    TadrosExperiment,
    load_flat_split,
    run_tadros_experiment,
    untrained_copies,
)
from neurovae.sleep.stdp_network.network import DiehlCookNetwork
from neurovae.sleep.stdp_network.params import (
    InputParams,
    NetworkParams,
    Phase,
    SleepParams,
    StdpParameterError,
    StdpParams,
)
from neurovae.sleep.stdp_network.search import TadrosValidation, run_tadros_search

QUICK = {"train_sizes": (20, 40), "robust_sizes": (20,), "label_count": 40, "test_count": 40,
         "noise_levels": (0.0, 0.3), "blur_levels": (0.0, 1.0)}
"""A seconds-long smoke run: tiny sizes, short presentations, a short sleep."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"),
                        help="MNIST-format folder (default: Fashion-MNIST)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for results.json/.md and PNGs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000])
    parser.add_argument("--robust-sizes", type=int, nargs="+", default=None,
                        help="training sizes that get noise / blur curves (default: the smallest)")
    parser.add_argument("--neurons", type=int, default=100, help="excitatory (and inhibitory) neurons")
    parser.add_argument("--label-count", type=int, default=1000, help="held-out training images for labelling")
    parser.add_argument("--test-count", type=int, default=1000, help="test images used")
    parser.add_argument("--sleep-ms", type=float, default=SleepParams.duration)
    parser.add_argument("--sleep-rate", type=float, default=SleepParams.max_rate,
                        help="Hz of a white pixel of the mean image during sleep")
    parser.add_argument("--sleep-leak", type=float, default=SleepParams.leak_scale)
    parser.add_argument("--sleep-ampa", type=float, default=SleepParams.ampa_scale)
    parser.add_argument("--sleep-inhibition", type=float, default=SleepParams.inhibition_scale)
    parser.add_argument("--sleep-theta-tau", type=float, default=None, metavar="MS",
                        help="thresholds' decay time constant during sleep (default: the wake one, 1e7 ms)")
    parser.add_argument("--rate-post", type=float, default=StdpParams.rate_post,
                        help="STDP potentiation rate (smaller: slower awake learning)")
    parser.add_argument("--rate-pre", type=float, default=StdpParams.rate_pre, help="STDP depression rate")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--lava-steps", type=int, default=0,
                        help="first verify on Lava: this many learning steps of a fresh network on the first "
                             "training image, Lava vs PyTorch (writes lava_check.json)")
    parser.add_argument("--search", type=int, default=0, metavar="TRIALS",
                        help="instead of the experiment, search the sleep's settings (Optuna) on --val-count held-out "
                             "training images, for a network learnt on the one --train-sizes")
    parser.add_argument("--val-count", type=int, default=1000, help="held-out training images a search judges on")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (seconds)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def experiment_from_args(args: argparse.Namespace) -> TadrosExperiment:
    """The experiment record that the arguments describe (``--quick`` shrinks everything)."""
    network = NetworkParams(n_neurons=args.neurons, stdp=StdpParams(rate_pre=args.rate_pre, rate_post=args.rate_post))
    sleep = SleepParams(duration=args.sleep_ms, max_rate=args.sleep_rate, leak_scale=args.sleep_leak,
                        ampa_scale=args.sleep_ampa,
                        inhibition_scale=args.sleep_inhibition, theta_tau=args.sleep_theta_tau)
    sizes = tuple(args.train_sizes)
    fields = {"data": args.data, "out": args.out, "seeds": tuple(args.seeds), "train_sizes": sizes,
              "robust_sizes": tuple(args.robust_sizes or (min(sizes),)), "label_count": args.label_count,
              "test_count": args.test_count, "network": network, "sleep": sleep}
    if args.quick:
        fields |= QUICK
        fields["network"] = dataclasses.replace(network, n_neurons=10, input=InputParams(duration=100.0))
        fields["sleep"] = dataclasses.replace(sleep, duration=500.0)
    return TadrosExperiment(**fields)


def check_on_lava(config: TadrosExperiment, steps: int) -> dict:
    """Lava vs PyTorch on the full-size network for ``steps`` learning steps; written to ``lava_check.json``."""
    from neurovae.sleep.stdp_network.lava.network import compare_lava_and_torch

    images, _ = load_idx_split(config.data, "train")
    rates = images[0].reshape(-1) / 255.0 * config.network.input.max_rate * config.network.neuron.dt / 1000.0
    spikes = (np.random.default_rng(config.seeds[0]).random((steps, rates.size)) < rates).astype(float)
    network = DiehlCookNetwork.create(config.network, 1, [torch.Generator().manual_seed(config.seeds[0])],
                                      torch.float64)
    check = compare_lava_and_torch(config.network, network.weights[0].numpy(), network.theta[0].numpy(), spikes,
                                   Phase(learn=True))
    with atomic_path(config.out / "lava_check.json") as tmp:
        tmp.write_text(json.dumps(check, indent=1))
    return check


def search_sleep(config: TadrosExperiment, trials: int, val_count: int, bar: bool) -> None:
    """Learn the awake network on the one training size, then search the sleep's settings on held-out images.

    The last ``label_count`` training images label the neurons and the ``val_count`` before them are classified;
    the network learns from the rest, so neither the search nor the test split sees what it learnt from.
    """
    if len(config.train_sizes) != 1:
        raise StdpParameterError("a search learns one network: give one --train-sizes")
    images, targets = load_flat_split(config.data, "train")
    pool = len(images) - config.label_count - val_count
    size = config.train_sizes[0]
    if val_count < 1 or size > pool:
        raise StdpParameterError(f"{size} training images and {val_count} validation images do not fit in the "
                                 f"{len(images) - config.label_count} left after the labelling images")
    validation = TadrosValidation(images[-config.label_count:], targets[-config.label_count:],
                                  images[pool:pool + val_count], targets[pool:pool + val_count])
    seeds = list(config.seeds)
    network, orders = untrained_copies(config.network, seeds, pool)
    orders = orders[:, :size]
    generator = torch.Generator().manual_seed(seeds[0])
    for index in tqdm(range(size), desc="learning", unit="image", disable=not bar):
        network.learn_image(images[orders[:, index]], generator)

    def show(record: dict) -> None:
        tqdm.write(f"trial {record['trial']}: {record['objective']:+.2f} points "
                   + ", ".join(f"{name} {value:.3g}" for name, value in record["params"].items()))

    result = run_tadros_search(network, images[orders].mean(dim=1), validation, trials, seed=seeds[0],
                               progress=trial_log(config.out, show))
    write_search(result, config.out)
    best = result["best"]["params"]
    print(f"awake on validation: {result['awake']}\nbest: trial {result['best']['trial']}, "
          f"{result['best']['objective']:+.2f} points; on the test split: --sleep-inhibition "
          f"{best['inhibition_scale']:.3g} --sleep-theta-tau {best['theta_tau']:.4g} --sleep-leak "
          f"{best['leak_scale']:.3g} --sleep-ampa {best['ampa_scale']:.3g} --sleep-ms {best['duration']:.0f} "
          f"--sleep-rate {best['max_rate']:.3g}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        config = experiment_from_args(args)
        if args.lava_steps:
            print(f"Lava vs PyTorch: {check_on_lava(config, args.lava_steps)}", flush=True)
        if args.search:
            search_sleep(config, args.search, args.val_count, bar=not args.no_progress)
        else:
            run_tadros_experiment(config, progress=tqdm.write, bar=not args.no_progress)  # lines above the bar
    except NeurovaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"results in {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
