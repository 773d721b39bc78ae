"""Batched emulator vs Lava's CPU simulator: samples x steps per second on the same network and inputs.

Usage::

    python benchmarks/emulator_vs_lava.py                         # paper-sized ESVAE decoder, fixed point
    python benchmarks/emulator_vs_lava.py --precision float --full 0
    python benchmarks/emulator_vs_lava.py --network decoder.net --lava-samples 4 --samples 512
    python benchmarks/emulator_vs_lava.py --device cuda --batch-size 1024

In one run: Lava (``neurovae.simulate.run_lava``) and the emulator on the same ``--lava-samples`` samples
(spike for spike equal, checked and printed); then ``--rounds`` interleaved rounds of Lava on 1 sample, Lava
on ``--lava-samples`` samples and the emulator on ``--samples`` samples, so that a change in the machine's
load hits both alike; the best round of each counts. Lava's rate is its marginal rate (the slope between the
1-sample and the N-sample runs: build and compile excluded, the fair figure for long runs), in wall-clock
time and per CPU second (its worker processes included: robust to other programs' load); the ratio is given
both ways, and against Lava's whole run. ``--full N`` finally runs N samples (default 10,000, the
Fashion-MNIST test set) through the emulator for real, keeping only the readout layer's spikes, and prints
Lava's extrapolated time for the same work.

The default network is an ESVAE decoder of the paper's size (latent 128, channels 32-64-128-256, 32x32
output, T = 16) with random whole-number weights, calibrated layer by layer so that every hidden layer fires
at a plausible rate (a silent network would flatter neither simulator); inputs are Poisson latent spikes.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neurovae.netx import ConvTLayer, CubaNeuron, DenseLayer, InputLayer, NetworkRecord, describe, read_netx  # noqa: E402
from neurovae.simulate.emulator import run_emulator  # noqa: E402

STEPS = 16


def paper_decoder(seed: int = 0, latent: int = 128, channels: tuple[int, ...] = (32, 64, 128, 256),
                  rate: float = 0.15) -> NetworkRecord:
    """An ESVAE-shaped decoder with random integer weights, each layer scaled to fire at about ``rate``."""
    rng = np.random.default_rng(seed)
    neuron = CubaNeuron(iDecay=4096, vDecay=3072, vThMant=64)
    top = channels[-1]
    layers: list = [InputLayer((latent,)),
                    DenseLayer(rng.normal(size=(top * 4, latent)), neuron, shape=(top, 2, 2))]
    size = 2
    for c_in, c_out in zip(channels[::-1], channels[::-1][1:] + (channels[0],), strict=True):
        size *= 2
        layers.append(ConvTLayer(rng.normal(size=(c_in, c_out, 3, 3)), neuron, (c_out, size, size),
                                 stride=(2, 2), padding=(1, 1)))
    layers.append(ConvTLayer(rng.normal(size=(channels[0], 1, 3, 3)), CubaNeuron(iDecay=4096, vDecay=819,
                                                                                   vThMant=131071), (1, size, size),
                             padding=(1, 1)))
    spikes = (rng.uniform(size=(16, latent, STEPS)) < 0.3).astype(float)
    for index in range(1, len(layers)):  # scale layer by layer so that it fires at about `rate`
        scale = 40.0
        for _ in range(12):
            trial = list(layers)
            weight = np.round(layers[index].weight / np.abs(layers[index].weight).max() * scale)
            trial[index] = dataclasses.replace(layers[index], weight=weight)
            net = NetworkRecord(layers=tuple(trial[:index + 1]), steps=STEPS, precision="fixed")
            if index == len(layers) - 1:
                break
            fired = run_emulator(net, spikes, "fixed", progress=False).spikes[index].mean()
            if abs(fired - rate) < 0.25 * rate:
                break
            scale *= min(4.0, max(0.25, (rate / max(fired, 1e-3)) ** 0.7))
        layers[index] = trial[index]
    return NetworkRecord(layers=tuple(layers), steps=STEPS, readout="voltage", precision="fixed")


@dataclass
class Timing:
    """Best (smallest) wall and CPU seconds over the rounds; CPU includes Lava's worker processes."""

    wall: float = float("inf")
    cpu: float = float("inf")

    def add(self, wall: float, cpu: float) -> None:
        self.wall, self.cpu = min(self.wall, wall), min(self.cpu, cpu)


def timed(function, *args, **kwargs):
    """``(result, wall s, CPU s)``; CPU s counts this process and its finished children (Lava's processes)."""
    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    wall, used = time.perf_counter(), cpu()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, cpu() - used


def lava_run(network: NetworkRecord, inputs: np.ndarray, precision: str):
    from neurovae.simulate import run_lava

    return run_lava(network, inputs, precision=precision, progress=False)


def same_spikes(a, b) -> bool:
    return all(np.array_equal(a.spikes[i], b.spikes[i]) for i in a.spikes) and np.allclose(
        a.readout_voltage, b.readout_voltage, rtol=1e-12, atol=1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="paper-decoder", help="paper-decoder (default) or a netx file")
    parser.add_argument("--precision", choices=("fixed", "float"), default="fixed")
    parser.add_argument("--lava-samples", type=int, default=4, help="samples Lava runs (default 4)")
    parser.add_argument("--samples", type=int, default=512, help="samples for the emulator's rate (default 512)")
    parser.add_argument("--full", type=int, default=10_000, help="samples for the full-test-set run (0: skip)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1: on a busy 2-core machine, OpenMP threads that wait "
                             "for each other at every elementwise step cost more than they gain; 0: torch's default)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds; the best counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    network = paper_decoder(args.seed) if args.network == "paper-decoder" else read_netx(args.network)
    steps = network.steps or STEPS
    print(describe(network).splitlines()[0])
    rng = np.random.default_rng(args.seed + 1)

    def inputs(count: int) -> np.ndarray:
        if network.input_encoding == "direct":
            return rng.uniform(-1, 1, (count, *network.input_shape, steps))
        return (rng.uniform(size=(count, *network.input_shape, steps)) < 0.3).astype(float)

    lava_in, bench_in = inputs(args.lava_samples), inputs(args.samples)
    many = lava_run(network, lava_in, args.precision)  # warm-up: Lava's imports and first compile are not timed
    emulated = run_emulator(network, lava_in, args.precision, batch_size=args.batch_size, device=args.device,
                            progress=False)
    print(f"emulator on Lava's {args.lava_samples} samples: spikes and readout identical to Lava: "
          f"{'yes' if same_spikes(many, emulated) else 'NO'}")

    one, lava, emu = Timing(), Timing(), Timing()
    for _ in range(args.rounds):  # interleaved, so that a change in the machine's load hits both alike
        one.add(*timed(lava_run, network, lava_in[:1], args.precision)[1:])
        lava.add(*timed(lava_run, network, lava_in, args.precision)[1:])
        result, *seconds = timed(run_emulator, network, bench_in, args.precision, batch_size=args.batch_size,
                                 device=args.device, progress=False)
        emu.add(*seconds)
    extra = max(args.lava_samples - 1, 1)
    marginal = Timing((lava.wall - one.wall) / extra, (lava.cpu - one.cpu) / extra)  # s per extra sample
    if marginal.wall <= 0 or marginal.cpu <= 0:  # a noisy machine: fall back to the whole run
        marginal = Timing(lava.wall / args.lava_samples, lava.cpu / args.lava_samples)
    work, lava_work = args.samples * steps, args.lava_samples * steps
    print(f"lava {args.precision}: {args.lava_samples} samples x {steps} steps in {lava.wall:.1f} s wall, "
          f"{lava.cpu:.1f} CPU s, build + compile included ({lava_work / lava.wall:.2f} samples x steps/s); "
          f"1 sample: {one.wall:.1f} s; marginal {marginal.wall:.2f} s = {steps / marginal.wall:.2f} samples x "
          f"steps/s ({steps / marginal.cpu:.2f} per CPU s)")
    rates = ", ".join(f"{i}: {result.spikes[i].mean():.3f}" for i in result.spikes)
    print(f"emulator {args.precision}: {args.samples} samples x {steps} steps in {emu.wall:.2f} s wall, "
          f"{emu.cpu:.2f} CPU s ({work / emu.wall:.0f} samples x steps/s, {work / emu.cpu:.0f} per CPU s; "
          f"batch {args.batch_size}, {args.device}, {torch.get_num_threads()} threads; firing rates {rates})")
    print(f"ratio emulator / lava (best of {args.rounds} interleaved rounds): "
          f"{(work / emu.wall) / (steps / marginal.wall):.0f}x wall clock vs Lava's marginal rate, "
          f"{(work / emu.cpu) / (steps / marginal.cpu):.0f}x per CPU second, "
          f"{(work / emu.wall) / (lava_work / lava.wall):.0f}x vs Lava's whole {args.lava_samples}-sample run")

    if args.full:
        last = network.spiking_layers[-1]
        full_in = inputs(args.full)
        start = time.perf_counter()
        run_emulator(network, full_in, args.precision, batch_size=args.batch_size, device=args.device,
                     progress=True, record_layers=(last,))
        elapsed = time.perf_counter() - start
        lava_full = one.wall + (args.full - 1) * marginal.wall
        print(f"full set: {args.full} samples x {steps} steps through the emulator in {elapsed:.0f} s "
              f"({elapsed / 60:.1f} min); Lava, extrapolated: {lava_full:.0f} s ({lava_full / 3600:.1f} h)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
