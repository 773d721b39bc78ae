"""``neurovae sleep RUN --search N``: search VAE-sleep's settings (neurovae.sleep.search), record the trials."""

from __future__ import annotations

import argparse
from typing import Any

from neurovae.cli.common import open_dataset
from neurovae.cli.sleep import load_model, sleep_settings
from neurovae.errors import ConfigError

SEARCHED = ("duration", "input_rate", "thresholds", "a_ltp", "a_ltd", "leak", "batch")
"""Flags whose settings the search chooses itself (batch: the emulator sleeps one chain)."""


def check_search_arguments(args: argparse.Namespace) -> None:
    """Refuse, in one line, flags that the search sets itself or a backend it does not run on."""
    given = [f"--{flag.replace('_', '-')}" for flag in SEARCHED if getattr(args, flag) is not None]
    given += ["--calibrate"] if args.calibrate else []
    if given:
        raise ConfigError(f"--search chooses {', '.join(given)} itself; drop {'it' if len(given) == 1 else 'them'}")
    if args.backend not in (None, "emulator") or args.precision == "float":
        raise ConfigError("--search sleeps on the emulator in Loihi's fixed point (bit-exact with Lava); drop "
                          "--backend / --precision")
    if args.search < 1:
        raise ConfigError(f"--search needs at least one trial, got {args.search}")
    if args.val_images < 4:
        raise ConfigError(f"--val-images must be at least 4 (half fits the probe, half is judged), got "
                          f"{args.val_images}")


def best_command(result: dict[str, Any], run: str, thresholds: tuple[float, ...]) -> str:
    """The ``neurovae sleep`` command that sleeps ``run`` with the best setting found."""
    params = result["best"]["params"]
    rate = params.get("input_rate_hz", 1000.0)  # the intensity encoding: 1000 Hz at 1 ms steps
    return (f"neurovae sleep {run} --backend emulator --thresholds {' '.join(f'{t:.6g}' for t in thresholds)} "
            f"--input-rate {rate:.6g} --a-ltp {params['a_ltp']:.6g} --a-ltd {params['a_ltd']:.6g} "
            f"--duration {params['duration']} --leak {params['leak']:.6g} --seed {result['base']['seed']}")


def print_trial(record: dict[str, Any]) -> None:
    """One line per trial as it finishes."""
    if record["state"] == "refused":
        print(f"trial {record['trial']}: refused ({record['reason']})", flush=True)
        return
    bound = "within" if record["feasible"] else "over"
    print(f"trial {record['trial']}: {record['objective']:+.3f} % over no sleep; largest relative weight change "
          f"{record['max_relative_change']:.2%} ({bound} the bound)", flush=True)


def run_search_command(args: argparse.Namespace) -> int:
    """Search the sleep's settings on a validation split; write trials.json, trials.csv and search.png."""
    import torch

    from neurovae.sleep.search import SearchSpace, Validation, run_search, sleep_config
    from neurovae.sleep.search_output import describe_best, write_search

    check_search_arguments(args)
    space = SearchSpace(duration=tuple(args.search_durations)) if args.search_durations else SearchSpace()
    paths, config, _, model, out = load_model(args, "-sleep-search")
    base = sleep_settings(args, config.data.dataset)
    dataset = open_dataset(config, "train", args.data, args.images + args.val_images)
    sleeping = len(dataset) - args.val_images
    if sleeping < 1:
        raise ConfigError(f"{len(dataset)} training images cannot hold --val-images {args.val_images} and images to "
                          "sleep on; lower --val-images")
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    labels = torch.as_tensor([dataset[i][1] for i in range(len(dataset))])
    validation = Validation(images[sleeping:], labels[sleeping:])
    print(f"searching {args.search} sleep settings: sleeping on {sleeping} training images, judging on the next "
          f"{args.val_images} under pixel noise {', '.join(map(str, validation.pixel_sigmas))} and latent noise "
          f"{validation.latent_std:g}", flush=True)
    result = run_search(model, images[:sleeping], validation, base, args.search, seed=base.seed, space=space,
                        progress=print_trial)
    written = write_search(result, out)
    print(describe_best(result))
    if result["best"] is not None:
        thresholds = sleep_config(result["best"]["params"], base).thresholds
        print(f"sleep with it: {best_command(result, str(paths.root), thresholds)}")
    print("wrote " + ", ".join(map(str, written)))
    return 0
