"""The searched sleep against no sleep on the test split, over seeds, with confidence intervals.

A search picks its best setting on a validation split, so its best objective is biased upwards (the winner's
curse). What a user may expect from that setting is measured here on images neither the search nor the sleep saw:
each seed sleeps the model once more (its own input spikes and image order) and draws its own noise, and the awake
and the slept model see the same noisy inputs. The interval is Student's t at 95 % over the seeds' differences.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from neurovae.errors import ConfigError
from neurovae.evaluate.intervals import format_interval, mean_and_interval
from neurovae.sleep.report import relative_change
from neurovae.sleep.run import sleep_model
from neurovae.sleep.search import Validation, relative_gain, scores_zero, sleep_config
from neurovae.sleep.vae_sleep import VAESleepConfig


def confirm_on_test(model: nn.Module, sleep_images: torch.Tensor, test: Validation, base: VAESleepConfig,
                    params: dict[str, Any], seeds: Sequence[int],
                    progress: Callable[[dict[str, Any]], None] = lambda record: None) -> dict[str, Any]:
    """Sleep ``model`` with the searched ``params`` once per seed and compare it with no sleep on ``test``.

    A seed's relative ``objective`` is None where the awake model scored 0 (a gain over 0 is not relative to
    anything); the absolute differences are always there.

    Args:
        model: the trained CVAE / VSC (not changed).
        sleep_images: the images the sleep presents, in [-1, 1] (the training images the search slept on).
        test: the test split and its noise conditions.
        base: the settings not searched; each seed replaces its ``seed``.
        params: the searched setting (:func:`neurovae.sleep.search.sleep_config` reads it).
        seeds: one sleep and one draw of the noise each.
        progress: called with each seed's record.
    """
    if not seeds:
        raise ConfigError("confirming a sleep setting needs at least one seed")
    runs = []
    for seed in seeds:
        config = sleep_config(params, dataclasses.replace(base, seed=seed))
        slept, summary = sleep_model(model, sleep_images, config, "emulator", precision="fixed")
        awake, after = test.measure(model, seed), test.measure(slept, seed)
        runs.append({"seed": seed, "awake": awake, "slept": after,
                     "objective": None if scores_zero(awake) else relative_gain(after, awake),
                     "max_relative_change": max(relative_change(layer) for layer in summary["layers"])})
        progress(runs[-1])
    objectives = [run["objective"] for run in runs if run["objective"] is not None]
    conditions = {name: {key: {"awake": mean_and_interval([run["awake"][name][key] for run in runs]),
                               "slept": mean_and_interval([run["slept"][name][key] for run in runs]),
                               "difference": mean_and_interval([run["slept"][name][key] - run["awake"][name][key]
                                                                for run in runs])}
                         for key in ("psnr", "probe")}
                  for name in runs[0]["awake"]}
    return {"params": params, "seeds": list(seeds), "test_images": len(test.images), "runs": runs,
            "objective": mean_and_interval(objectives) if objectives else None, "conditions": conditions}


def confirmation_table(result: dict[str, Any]) -> str:
    """A Markdown table: per noise condition, PSNR and probe accuracy awake, slept and their difference."""
    lines = ["| condition | PSNR awake (dB) | PSNR slept (dB) | difference | probe awake | probe slept | difference |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, figures in result["conditions"].items():
        cells = [format_interval(figures[key][column], 2 if key == "psnr" else 3)
                 for key in ("psnr", "probe") for column in ("awake", "slept", "difference")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    objective = ("undefined (the awake model scored 0 somewhere)" if result["objective"] is None
                 else f"{format_interval(result['objective'], 2)} % over no sleep")
    lines.append(f"\nObjective (mean relative gain of PSNR and probe over the conditions): {objective}; "
                 f"{len(result['seeds'])} seeds, {result['test_images']} test images, 95 % Student's t intervals.")
    return "\n".join(lines)
