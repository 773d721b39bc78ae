"""``neurovae sleep RUN --search N``: search VAE-sleep's settings (neurovae.sleep.search), record the trials."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from neurovae.cli.common import open_dataset
from neurovae.cli.sleep import labelled, load_model, sleep_settings
from neurovae.errors import ConfigError
from neurovae.io import atomic_path

if TYPE_CHECKING:
    from torch import nn

    from neurovae.config import RunConfig
    from neurovae.sleep.vae_sleep import VAESleepConfig

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
    for flag, count in (("--val-images", args.val_images), ("--test-images", args.test_images)):
        if count < 4:
            raise ConfigError(f"{flag} must be at least 4 (half fits the probe, half is judged), got {count}")
    if args.test_seeds < 0:
        raise ConfigError(f"--test-seeds must be 0 (no test) or more, got {args.test_seeds}")


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


def print_confirmation(run: dict[str, Any]) -> None:
    """One line per seed of the test confirmation."""
    gain = "undefined (the awake model scored 0)" if run["objective"] is None else f"{run['objective']:+.3f} %"
    print(f"seed {run['seed']}: {gain} over no sleep", flush=True)


def run_search_command(args: argparse.Namespace) -> int:
    """Search the sleep's settings on a validation split, then confirm the best on the test split.

    Writes trials.jsonl as trials end, then trials.json, trials.csv and search.png, then test.json and test.md.
    """
    from neurovae.sleep.search import SearchSpace, Validation, run_search, sleep_config
    from neurovae.sleep.search_output import describe_best, trial_log, write_search

    check_search_arguments(args)
    space = SearchSpace(duration=tuple(args.search_durations)) if args.search_durations else SearchSpace()
    paths, config, _, model, out = load_model(args, "-sleep-search")
    base = sleep_settings(args, config.data.dataset)
    dataset = open_dataset(config, "train", args.data, args.images + args.val_images)
    sleeping = len(dataset) - args.val_images
    if sleeping < 1:
        raise ConfigError(f"{len(dataset)} training images cannot hold --val-images {args.val_images} and images to "
                          "sleep on; lower --val-images")
    images, labels = labelled(dataset)
    validation = Validation(images[sleeping:], labels[sleeping:])
    print(f"searching {args.search} sleep settings: sleeping on {sleeping} training images, judging on the next "
          f"{args.val_images} under pixel noise {', '.join(map(str, validation.pixel_sigmas))} and latent noise "
          f"{validation.latent_std:g}", flush=True)
    result = run_search(model, images[:sleeping], validation, base, args.search, seed=base.seed, space=space,
                        progress=trial_log(out, print_trial))
    written = write_search(result, out)
    print(describe_best(result))
    if result["best"] is not None:
        thresholds = sleep_config(result["best"]["params"], base).thresholds
        print(f"sleep with it: {best_command(result, str(paths.root), thresholds)}")
        if args.test_seeds:
            written += confirm_best(args, config, model, images[:sleeping], base, result["best"]["params"], out)
    print("wrote " + ", ".join(map(str, written)))
    return 0


def confirm_best(args: argparse.Namespace, config: RunConfig, model: nn.Module, sleep_images: torch.Tensor,
                 base: VAESleepConfig, params: dict[str, Any], out: Path) -> list[Path]:
    """The best setting against no sleep on the test split over ``--test-seeds``: test.json and test.md."""
    from neurovae.sleep.confirm import confirm_on_test, confirmation_table
    from neurovae.sleep.search import Validation

    test = Validation(*labelled(open_dataset(config, "test", args.data, args.test_images)))
    print(f"confirming the best setting on {len(test.images)} test images, seeds 0-{args.test_seeds - 1}",
          flush=True)
    result = confirm_on_test(model, sleep_images, test, base, params, range(args.test_seeds),
                             progress=print_confirmation)
    table = confirmation_table(result)
    print(table)
    paths = [out / "test.json", out / "test.md"]
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    with atomic_path(paths[1]) as tmp:
        tmp.write_text(f"# The searched sleep against no sleep, test split\n\n{table}\n")
    return paths
