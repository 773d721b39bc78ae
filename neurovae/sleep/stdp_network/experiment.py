"""Tadros et al. (2019) experiments: accuracy before and after sleep versus training size, noise and blur.

One Diehl & Cook network per seed learns (all seeds side by side as network copies, each on its own image
order); at every requested training size a copy of it sleeps, and the awake and the slept network are
labelled on held-out training images and tested on the test set, clean and corrupted. At the training sizes
with noise and blur curves the paper's ablation runs too: the slept weights with the awake thresholds, and
the awake weights with the slept thresholds; where sleep has its own threshold decay, also the awake network
whose thresholds only decayed as long. Results go to ``results.json``, ``results.md`` and PNG figures in
the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from neurovae.data.idx import load_idx_split
from neurovae.evaluate.intervals import format_interval, mean_and_interval
from neurovae.io import atomic_path
from neurovae.progress import sample_bar
from neurovae.sleep.stdp_network.corruptions import add_gaussian_noise, gaussian_blur
from neurovae.sleep.stdp_network.labels import label_and_score
from neurovae.sleep.stdp_network.network import DiehlCookNetwork
from neurovae.sleep.stdp_network.params import NetworkParams, SleepParams, StdpParameterError
from neurovae.sleep.stdp_network.sleep import silent_threshold_decay, sleep

STATES = {"before": ("awake (before sleep)", "tab:blue"), "after": ("after sleep", "tab:orange"),
          "slept_weights": ("slept weights, awake thresholds", "tab:green"),
          "slept_thresholds": ("awake weights, slept thresholds", "tab:red"),
          "decayed_thresholds": ("awake weights, thresholds decayed without sleep", "tab:gray")}
"""Network states tested: awake, slept, the 2x2 ablation's two mixed states, and (when sleep has its own
threshold decay) the control for it: the awake network whose thresholds only decayed for the sleep's length,
without input, which tells the sleep's spiking apart from the decay (legend and colour)."""
PAPER_MNIST_1000 = (0.20, 0.60)
"""Tadros et al. 2019, text of Fig. 3: 1,000 MNIST training images, test accuracy before -> after sleep."""


@dataclasses.dataclass(frozen=True)
class TadrosExperiment:
    """What to run; sizes count images, ``robust_sizes`` are the training sizes that get noise/blur curves."""

    data: Path
    out: Path
    seeds: tuple[int, ...] = (0, 1, 2)
    train_sizes: tuple[int, ...] = (1000, 2000, 5000, 10000)
    robust_sizes: tuple[int, ...] = (1000,)
    label_count: int = 1000
    test_count: int = 1000
    noise_levels: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    blur_levels: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)
    network: NetworkParams = NetworkParams()
    sleep: SleepParams = SleepParams()

    def __post_init__(self) -> None:
        if not self.seeds or not self.train_sizes:
            raise StdpParameterError("give at least one seed and one training size")
        if min(self.train_sizes) <= 0 or self.label_count <= 0 or self.test_count <= 0:
            raise StdpParameterError("training sizes, label_count and test_count must be positive")
        if not set(self.robust_sizes) <= set(self.train_sizes):
            raise StdpParameterError(f"robust_sizes {self.robust_sizes} must be among train_sizes {self.train_sizes}")


def load_flat_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """An MNIST-format split as flat images ``[count, pixels]`` in [0, 1] and their classes."""
    images, labels = load_idx_split(Path(folder), split)
    flat = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    return flat, torch.from_numpy(labels.astype(np.int64))


def untrained_copies(params: NetworkParams, seeds: Sequence[int],
                     pool: int) -> tuple[DiehlCookNetwork, torch.Tensor]:
    """One untrained network per seed, and the order ``[seeds, pool]`` in which each learns the training images."""
    network = DiehlCookNetwork.create(params, len(seeds), [torch.Generator().manual_seed(s) for s in seeds])
    orders = torch.stack([torch.randperm(pool, generator=torch.Generator().manual_seed(1000 + s)) for s in seeds])
    return network, orders


def run_tadros_experiment(config: TadrosExperiment, progress: Callable[[str], None] | None = None,
                          bar: bool = False) -> dict:
    """Run the whole sweep, write ``results.json``, ``results.md`` and the PNGs; return the results dict.

    ``progress`` gets a line after each training size; ``bar`` shows a progress bar over the images learnt.
    """
    report = progress or (lambda _message: None)
    train_x, train_y = load_flat_split(config.data, "train")
    test_x, test_y = load_flat_split(config.data, "test")
    pool = len(train_x) - config.label_count
    if max(config.train_sizes) > pool:
        raise StdpParameterError(f"{max(config.train_sizes)} training images requested but only {pool} remain "
                                 f"after the {config.label_count} held out for labelling")
    label_set = (train_x[pool:], train_y[pool:])
    test_x, test_y = test_x[:config.test_count], test_y[:config.test_count]
    noise_gen = torch.Generator().manual_seed(12345)
    corrupted = {("clean", 0.0): test_x}
    corrupted |= {("noise", s): add_gaussian_noise(test_x, s, noise_gen) for s in config.noise_levels if s > 0}
    corrupted |= {("blur", s): gaussian_blur(test_x, s) for s in config.blur_levels if s > 0}

    seeds = list(config.seeds)
    network, orders = untrained_copies(config.network, seeds, pool)
    learn_gen = torch.Generator().manual_seed(seeds[0])
    eval_gen = torch.Generator().manual_seed(seeds[0] + 1)
    records: list[dict] = []
    seen = 0
    started = time.monotonic()
    learning = sample_bar(max(config.train_sizes), bar, "learning")
    for size in sorted(set(config.train_sizes)):
        for index in range(seen, size):
            network.learn_image(train_x[orders[:, index]], learn_gen)
            learning.update(1)
        seen = size
        report(f"{size} images learnt ({time.monotonic() - started:.0f} s)")
        tests = corrupted if size in config.robust_sizes else {("clean", 0.0): test_x}
        slept = network.clone()
        sleep_counts = sleep(slept, train_x[orders[:, :size]].mean(dim=1), config.sleep, learn_gen)
        states = {"before": network, "after": slept}
        if size in config.robust_sizes:
            states |= {"slept_weights": DiehlCookNetwork(config.network, slept.weights, network.theta),
                       "slept_thresholds": DiehlCookNetwork(config.network, network.weights, slept.theta)}
            if config.sleep.theta_tau is not None:
                decay = silent_threshold_decay(config.network, config.sleep)
                states["decayed_thresholds"] = DiehlCookNetwork(config.network, network.weights, network.theta * decay)
        for state, net in states.items():
            for (kind, level), accs in label_and_score(net, label_set, tests, test_y, eval_gen).items():
                records += [{"train_size": size, "state": state, "corruption": kind, "level": level, "seed": seed,
                             "accuracy": acc} for seed, acc in zip(seeds, accs, strict=True)]
        records += [{"train_size": size, "state": "sleep", "seed": seed, "sleep_spikes": float(count.sum()),
                     "theta_change_mean": float(change.mean()), "thresholds_up": int((change > 0).sum()),
                     "thresholds_down": int((change < 0).sum())}
                    for seed, count, change in zip(seeds, sleep_counts, slept.theta - network.theta, strict=True)]
        clean = {state: np.mean([r["accuracy"] for r in records if r["train_size"] == size
                                 and r.get("corruption") == "clean" and r["state"] == state]) for state in states}
        report(f"{size} images: clean accuracy " + ", ".join(f"{state} {value:.3f}" for state, value in clean.items())
               + f" ({time.monotonic() - started:.0f} s)")
        results = {"config": _jsonable(config), "records": records, "seconds": time.monotonic() - started,
                   "device": "cpu", "torch_threads": torch.get_num_threads()}
        write_outputs(results, config.out)  # after every size, so that a stopped run keeps what it measured
    learning.close()
    return results


def _jsonable(config: TadrosExperiment) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def _summary(records: Sequence[dict], corruption: str, size: int | None = None) -> dict[str, dict[float, list]]:
    """Accuracies over seeds by state, then by x; x is the training size (clean) or the corruption level."""
    table: dict[str, dict[float, list]] = {}
    for r in records:
        if r.get("corruption") != corruption or (size is not None and r["train_size"] != size):
            continue
        x = r["train_size"] if corruption == "clean" and size is None else r["level"]
        table.setdefault(r["state"], {}).setdefault(x, []).append(r["accuracy"])
    return table


def write_outputs(results: dict, out: Path) -> None:
    """``results.json``, ``results.md`` and the figures, each written atomically."""
    out = Path(out)
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    records = results["records"]
    robust = sorted({r["train_size"] for r in records if r.get("corruption") in ("noise", "blur")})
    lines = ["| training images | accuracy before sleep | after sleep | seeds |", "| --- | --- | --- | --- |"]
    clean = _summary(records, "clean")
    for size in sorted(clean["before"]):
        before, after = clean["before"][size], clean["after"][size]
        lines.append(f"| {size} | {np.mean(before):.3f} ± {np.std(before):.3f} | {np.mean(after):.3f} ± "
                     f"{np.std(after):.3f} | {len(before)} |")
    curves = {(size, kind): _corruption_curves(records, kind, size) for size in robust for kind in ("noise", "blur")}
    for (size, kind), table in curves.items():
        lines += ["", f"| {kind} sigma ({size} training images) | " + " | ".join(STATES[s][0] for s in table) + " |",
                  "| --- |" + " --- |" * len(table)]
        for level in sorted(table["before"]):
            lines.append(f"| {level} | " + " | ".join(f"{np.mean(table[s][level]):.3f} ± {np.std(table[s][level]):.3f}"
                                                      for s in table) + " |")
    for size, kind in curves:
        lines += _gain_table(records, kind, size)
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    awake_and_slept = {state: clean[state] for state in ("before", "after")}
    _plot(awake_and_slept, "training images", "accuracy vs training size", out / "accuracy_vs_train_size.png",
          reference=(1000, PAPER_MNIST_1000))
    for (size, kind), table in curves.items():
        _plot(table, f"{kind} sigma", f"accuracy vs {kind} ({size} training images)",
              out / f"accuracy_vs_{kind}_{size}.png")


def _gain_table(records: Sequence[dict], kind: str, size: int) -> list[str]:
    """Markdown rows: each state's accuracy minus the awake network's on the same seed, with 95 % t intervals.

    Paired by seed, so the seeds' common spread cancels; where the decay-only control ran, also the full sleep
    minus the control, which is what the sleep's spiking adds to the threshold decay.
    """
    by_seed: dict[tuple[str, float], dict[int, float]] = {}
    for r in records:
        if r["train_size"] == size and r.get("corruption") in (kind, "clean"):
            level = 0.0 if r["corruption"] == "clean" else r["level"]
            by_seed.setdefault((r["state"], level), {})[r["seed"]] = r["accuracy"]
    states = [s for s in STATES if s != "before" and any(key[0] == s for key in by_seed)]
    pairs = [(state, "before", f"{STATES[state][0]} - awake") for state in states]
    if {"after", "decayed_thresholds"} <= set(states):
        pairs.append(("after", "decayed_thresholds", "after sleep - thresholds decayed without sleep"))
    lines = ["", f"| {kind} sigma ({size} training images), paired gain, 95 % t interval | "
             + " | ".join(label for *_, label in pairs) + " |", "| --- |" + " --- |" * len(pairs)]
    for level in sorted(level for state, level in by_seed if state == "before"):
        cells = []
        for state, baseline, _ in pairs:
            first, second = by_seed.get((state, level), {}), by_seed[(baseline, level)]
            seeds = sorted(set(first) & set(second))
            cells.append(format_interval(mean_and_interval([first[s] - second[s] for s in seeds]), 3)
                         if seeds else "")
        lines.append(f"| {level} | " + " | ".join(cells) + " |")
    return lines


def _corruption_curves(records: Sequence[dict], kind: str, size: int) -> dict[str, dict[float, list]]:
    """Accuracy by state and corruption level at one training size, the clean test as level 0."""
    table, clean = _summary(records, kind, size), _summary(records, "clean", size)
    return {state: clean.get(state, {}) | table[state] for state in STATES if state in table}


def _plot(table: dict[str, dict[float, list]], xlabel: str, title: str, path: Path,
          reference: tuple[int, tuple[float, float]] | None = None) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3.6))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for state, points in table.items():
        xs = sorted(points)
        label, color = STATES[state]
        axes.errorbar(xs, [np.mean(points[x]) for x in xs], yerr=[np.std(points[x]) for x in xs], marker="o",
                      capsize=3, color=color, label=label)
    if reference is not None:
        x, (before, after) = reference
        axes.scatter([x, x], [before, after], marker="x", color=["tab:blue", "tab:orange"],
                     label="paper, MNIST (before, after)")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("test accuracy")
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
