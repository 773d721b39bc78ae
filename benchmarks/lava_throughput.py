"""Lava simulation speed for the ESVAE encoder and decoder: steps/s and samples/s on this machine.

Usage::

    python benchmarks/lava_throughput.py [--config configs/esvae_fmnist.yaml] [-n 4] [--precision float]

Builds the configured ESVAE (random weights; speed does not depend on training), exports both parts to
netx and runs ``n`` samples of ``T + latency`` steps each through one compiled Lava network per part
(``neurovae.simulate.run_lava``, Loihi2SimCfg on the CPU). Build and compile time are included, as a user
sees them; the per-sample figure is what batching many samples brings it down to.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neurovae.config import load_config  # noqa: E402
from neurovae.export import export_model  # noqa: E402
from neurovae.registry import MODELS  # noqa: E402
from neurovae.simulate import run_lava  # noqa: E402
from neurovae.simulate.host import pad_latency, run_steps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "esvae_fmnist.yaml"))
    parser.add_argument("-n", "--samples", type=int, default=4)
    parser.add_argument("--precision", choices=("float", "fixed"), default="float")
    parser.add_argument("--parts", default="encoder,decoder")
    args = parser.parse_args()

    config = load_config(args.config)
    torch.manual_seed(0)
    model = MODELS.create(config.model_name, config.model).eval()
    rng = np.random.default_rng(0)
    print(f"{'part':<8} {'precision':<9} {'samples':>7} {'steps':>5} {'wall s':>7} {'steps/s':>8} {'s/sample':>9}")
    for part in args.parts.split(","):
        network = export_model(model, part)
        if args.precision == "fixed":
            from neurovae.export import quantize_network

            network = quantize_network(network)
        if network.input_encoding == "direct":
            inputs = rng.uniform(-1, 1, (args.samples, *network.input_shape))
            steps = run_steps(network)
        else:
            inputs = pad_latency(network, (rng.random((args.samples, *network.input_shape, network.steps)) < 0.3) * 1.0)
            steps = None
        start = time.perf_counter()
        result = run_lava(network, inputs, precision=args.precision, steps=steps, progress=False)
        wall = time.perf_counter() - start
        print(f"{part:<8} {args.precision:<9} {result.samples:>7} {result.steps:>5} {wall:>7.1f} "
              f"{result.samples * result.steps / wall:>8.1f} {wall / result.samples:>9.2f}")


if __name__ == "__main__":
    main()
