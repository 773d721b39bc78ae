"""VAE-sleep in Loihi fixed point: neurovae's emulator vs Lava's fixed_pt learning engine, steps per second.

Usage::

    python benchmarks/sleep_emulator_vs_lava.py                       # 16x16 CVAE (8-16 channels), 150 / 300 steps
    python benchmarks/sleep_emulator_vs_lava.py --steps 100 200 --full-steps 0
    python benchmarks/sleep_emulator_vs_lava.py --image-size 28 --channels 32 32 --lava-steps 0   # emulator only
    python benchmarks/sleep_emulator_vs_lava.py --setting runs/cvae-sleep-search/trials.json --full-steps 0

A CVAE with random weights (the paper's 4x4 stride-2 convolutions) is converted and its two sleeping layers are
lowered to Loihi's learning connections in fixed point, with thresholds tuned so that each layer fires at Table 3's
target rate rho (a silent network would flatter both), or with a search's best setting (``--setting``: its threshold
scale, input rate, STDP steps and leak, on Lava as in the emulator). Lava (``run_lava_sleep``, ``fixed_pt``) and the
emulator (``emulate_fixed``) then sleep on the same input spikes, at two lengths; the weights after the longer run
are checked equal (every forward and mirror weight, bit for bit) and printed. Each rate is the marginal one, the
slope between the two lengths (Lava's build and compile excluded, the fair figure for long sleeps), in wall-clock
seconds and, for Lava, per CPU second of its worker processes too. ``--full-steps N`` finally times the emulator on
the paper's Fashion-MNIST CVAE (28x28, 32-32 channels: 4.9 M + 9.8 M synapses per direction) for N steps and
extrapolates Table 3's 48,000-step sleep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neurovae.models.cvae import CVAE, CVAEConfig  # noqa: E402
from neurovae.sleep.convert import to_snn  # noqa: E402
from neurovae.sleep.on_chip import emulate_fixed, lower  # noqa: E402
from neurovae.sleep.run import table3_config  # noqa: E402
from neurovae.sleep.search import sleep_config  # noqa: E402
from neurovae.sleep.vae_sleep import calibrate_thresholds, input_spikes  # noqa: E402

TABLE3_STEPS = 48000


def lowered_sleep(image_size: int, channels: tuple[int, int], steps: int, seed: int = 0, setting: dict | None = None):
    """A random CVAE's sleeping layers in fixed point, and ``steps`` steps of input spikes.

    Thresholds at rho, or ``setting``: a searched setting (``trials.json``'s ``best`` ``params``) on Table 3's.
    """
    torch.manual_seed(seed)
    model = CVAE(CVAEConfig(image_size=image_size, channels=channels, hidden_dim=32, latent_dim=8))
    intensities = torch.rand(64, 1, image_size, image_size, generator=torch.Generator().manual_seed(seed))
    layers = to_snn(model, intensities)
    config = table3_config("fashion_mnist", duration=steps, seed=seed)
    if setting is None:
        config = dataclasses.replace(config, thresholds=calibrate_thresholds(layers, intensities, config, steps=200))
    else:
        config = sleep_config(setting, config)
    spikes = torch.cat(list(input_spikes(intensities, config))).flatten(1)
    device = lower(layers, (1, image_size, image_size), config.effective_thresholds(layers), config.rule, "fixed",
                   config.leak)
    synapses = sum(int((chip.taps >= 0).sum()) for chip in device)
    return device, spikes, synapses


def children_cpu() -> float:
    """CPU seconds of this process's finished children (Lava's workers), user + system."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def steps_per_second(extra_steps: int, extra_seconds: float) -> float:
    """The rate from the difference of two runs (start-up cancels), refused when start-up noise swamps it."""
    if extra_seconds <= 0:
        raise SystemExit(f"{extra_steps} more steps took no longer: start-up noise dominates; give longer --steps")
    return extra_steps / extra_seconds


def timed_lava(device, spikes) -> tuple[float, float, list[np.ndarray], list[np.ndarray]]:
    """Wall and worker-CPU seconds of one Lava fixed_pt sleep, and its weights."""
    from neurovae.sleep.lava_sleep import run_lava_sleep

    wall, cpu = time.perf_counter(), children_cpu() + time.process_time()
    forward, mirrors, _ = run_lava_sleep(device, spikes.numpy())
    return time.perf_counter() - wall, children_cpu() + time.process_time() - cpu, forward, mirrors


def timed_emulator(device, spikes) -> tuple[float, list[np.ndarray], list[np.ndarray], list[float]]:
    """Wall seconds of one emulated sleep, its weights and firing rates."""
    wall = time.perf_counter()
    forward, mirrors, rates = emulate_fixed(device, spikes)
    return time.perf_counter() - wall, forward, mirrors, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--channels", type=int, nargs=2, default=[8, 16])
    parser.add_argument("--steps", type=int, nargs=2, default=[150, 300], help="the two sleep lengths timed")
    parser.add_argument("--lava-steps", type=int, default=1, help="0: skip Lava (emulator only)")
    parser.add_argument("--full-steps", type=int, default=2000,
                        help="emulator steps on the paper's Fashion-MNIST CVAE (0: skip)")
    parser.add_argument("--setting", type=Path, metavar="TRIALS_JSON",
                        help="sleep with a search's best setting (neurovae sleep RUN --search N) instead of "
                             "thresholds at rho: the searched rule, rates and leak checked on Lava")
    args = parser.parse_args()
    torch.set_num_threads(1)
    short, long = args.steps
    setting = None
    if args.setting:
        best = json.loads(args.setting.read_text())["best"]
        if best is None:
            raise SystemExit(f"{args.setting} has no feasible best setting")
        setting = best["params"]
        print(f"the searched setting of {args.setting}, trial {best['trial']}: {setting}")
    device, spikes, synapses = lowered_sleep(args.image_size, tuple(args.channels), long, setting=setting)
    print(f"CVAE {args.image_size}x{args.image_size}, channels {args.channels}: {synapses:,} plastic synapses per "
          f"direction, lowered matrices {sum(chip.taps.size for chip in device):,} entries")
    emulator = [timed_emulator(device, spikes[:n]) for n in (short, long)]
    emulator_rate = steps_per_second(long - short, emulator[1][0] - emulator[0][0])
    print(f"emulator: {short} steps {emulator[0][0]:.2f} s, {long} steps {emulator[1][0]:.2f} s -> "
          f"{emulator_rate:,.0f} steps/s; firing rates {', '.join(f'{r:.4f}' for r in emulator[1][3])}")
    if args.lava_steps:
        lava = [timed_lava(device, spikes[:n]) for n in (short, long)]
        wall_rate = steps_per_second(long - short, lava[1][0] - lava[0][0])
        cpu_rate = steps_per_second(long - short, lava[1][1] - lava[0][1])
        same = all(np.array_equal(a, b) for a, b in zip(lava[1][2] + lava[1][3], emulator[1][1] + emulator[1][2],
                                                         strict=True))
        changed = sum(int((after != chip.forward.weights).sum()) for after, chip in zip(lava[1][2], device,
                                                                                         strict=True))
        print(f"Lava fixed_pt: {short} steps {lava[0][0]:.2f} s, {long} steps {lava[1][0]:.2f} s -> {wall_rate:,.1f} "
              f"steps/s wall, {cpu_rate:,.1f} per CPU second")
        print(f"weights after {long} steps identical (forward and mirror, every layer): {same}; "
              f"forward weights changed: {changed:,}")
        print(f"emulator / Lava: {emulator_rate / wall_rate:,.0f}x wall clock (whole runs: "
              f"{lava[1][0] / emulator[1][0]:,.0f}x)")
    if args.full_steps:
        device, spikes, synapses = lowered_sleep(28, (32, 32), args.full_steps)
        seconds, _, _, rates = timed_emulator(device, spikes)
        print(f"paper CVAE (28x28, 32-32, {synapses:,} plastic synapses per direction), thresholds at rho "
              f"(rates {', '.join(f'{r:.4f}' for r in rates)}): {args.full_steps} steps in {seconds:.1f} s -> "
              f"Table 3's {TABLE3_STEPS:,}-step sleep in about {seconds * TABLE3_STEPS / args.full_steps / 60:.1f} min")


if __name__ == "__main__":
    main()
