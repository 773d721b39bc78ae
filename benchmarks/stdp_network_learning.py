"""Learning speed of the Diehl & Cook network (Tadros 2019 experiments): images/s, sparse vs dense STDP.

Usage::

    python benchmarks/stdp_network_learning.py [--neurons 100 400] [--copies 3 5] [--images 20] [--threads 1]

Each configuration learns the same Fashion-MNIST images (350 ms each, the retries of Diehl & Cook included) twice
from the same initial network: with neurovae's STDP step, which touches only the rows of the inputs and the columns
of the neurons that fired, and with the textbook dense step (a full outer product and a clip of every weight each
millisecond). Both must end with the same weights (checked, float64 to 1e-12); the table gives images/s (summed
over the copies, which learn their own images side by side) and the ratio. The two run back to back per
configuration; on a loaded machine compare the ratios, not the absolute rates.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neurovae.data.idx import load_idx_split  # noqa: E402
from neurovae.sleep.stdp_network import network as network_module  # noqa: E402
from neurovae.sleep.stdp_network.dynamics import Traces, stdp_step  # noqa: E402
from neurovae.sleep.stdp_network.network import DiehlCookNetwork  # noqa: E402
from neurovae.sleep.stdp_network.params import NetworkParams, StdpParams  # noqa: E402


def dense_stdp_step(weights: torch.Tensor, pre_spikes: torch.Tensor, post_spikes: torch.Tensor, traces: Traces,
                    stdp: StdpParams, dt: float) -> tuple[torch.Tensor, Traces]:
    """The baseline: the same rule as one dense outer product per step, every weight clipped."""
    pre = traces.pre * math.exp(-dt / stdp.tau_pre) + pre_spikes
    post = traces.post * math.exp(-dt / stdp.tau_post) + post_spikes
    dw = torch.bmm(pre_spikes.unsqueeze(2), post.unsqueeze(1)).mul_(-stdp.rate_pre)
    dw.baddbmm_(pre.unsqueeze(2), post_spikes.unsqueeze(1), alpha=stdp.rate_post)
    weights.add_(dw).clamp_(stdp.w_min, stdp.w_max)
    return weights, Traces(pre=pre, post=post)


@contextmanager
def stdp_rule(step):
    """Run the network with ``step`` as its STDP update."""
    network_module.stdp_step = step
    try:
        yield
    finally:
        network_module.stdp_step = stdp_step


def learn(params: NetworkParams, copies: int, images: torch.Tensor, step) -> tuple[float, torch.Tensor]:
    """Seconds to learn ``images`` ([count, copies, pixels]) from a seeded network; returns (seconds, weights)."""
    network = DiehlCookNetwork.create(params, copies, [torch.Generator().manual_seed(s) for s in range(copies)],
                                      torch.float64)
    generator = torch.Generator().manual_seed(0)
    with stdp_rule(step):
        started = time.perf_counter()
        for image in images:
            network.learn_image(image, generator)
        return time.perf_counter() - started, network.weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--neurons", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--copies", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--images", type=int, default=20, help="images learnt per network copy")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pixels, _ = load_idx_split(args.data, "train")
    pixels = torch.from_numpy(pixels.reshape(len(pixels), -1).astype("float64") / 255.0)
    print(f"{'neurons':>7} {'copies':>6} {'dense img/s':>11} {'sparse img/s':>12} {'ratio':>6}")
    for neurons in args.neurons:
        for copies in args.copies:
            images = pixels[:args.images * copies].reshape(args.images, copies, -1)
            params = NetworkParams(n_neurons=neurons)
            dense_s, dense_w = learn(params, copies, images, dense_stdp_step)
            sparse_s, sparse_w = learn(params, copies, images, stdp_step)
            gap = (dense_w - sparse_w).abs().max().item()
            if gap > 1e-12:
                raise SystemExit(f"sparse and dense STDP disagree by {gap:g} ({neurons} neurons, {copies} copies)")
            per_copy = args.images * copies
            print(f"{neurons:>7} {copies:>6} {per_copy / dense_s:>11.1f} {per_copy / sparse_s:>12.1f} "
                  f"{dense_s / sparse_s:>5.1f}x")


if __name__ == "__main__":
    main()
