"""Peak memory of ``neurovae run`` and ``neurovae energy`` against the number of samples: does it stay flat?

Usage::

    python benchmarks/run_memory.py                       # paper-size ESVAE decoder, -n 100 and -n 10000, emulator
    python benchmarks/run_memory.py --counts 100 2000 --commands run

Each command runs in a fresh Python process (``neurovae`` called in-process there, so that its own peak resident
set is what ``getrusage`` reports) on the same network: an ESVAE decoder of the paper's size (latent 128,
channels 32-64-128-256, 32x32 output, T = 16, random whole-number weights calibrated to fire at a plausible
rate, from ``benchmarks/emulator_vs_lava.py``), fed Poisson latent spikes saved as ``.npy``. ``run`` writes every
layer's spikes of every sample (about 1 MB a sample here) to its ``.npz``: streamed to disk batch by batch, its
memory should not grow with ``-n``. Prints each peak and the ratio of the largest count's to the smallest's.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def child(argv: list[str]) -> None:
    """Run one ``neurovae`` command in this process and print its peak resident set in MB."""
    from neurovae.cli.main import main

    start = time.perf_counter()
    code = main(argv)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {code} {peak_mb:.1f} {time.perf_counter() - start:.1f}", flush=True)


def measure(argv: list[str]) -> tuple[float, float]:
    """``(peak MB, seconds)`` of one command in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines or lines[-1].split()[1] != "0":
        raise SystemExit(f"neurovae {' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    _, _, peak, seconds = lines[-1].split()
    return float(peak), float(seconds)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 10000], help="values of -n (default 100 10000)")
    parser.add_argument("--commands", nargs="+", choices=("run", "energy"), default=["run", "energy"])
    parser.add_argument("--backend", default="emulator")
    parser.add_argument("--precision", choices=("float", "fixed"), default="fixed")
    args = parser.parse_args()

    from emulator_vs_lava import STEPS, paper_decoder

    from neurovae.netx import write_netx
    from neurovae.simulate.host import latency

    with tempfile.TemporaryDirectory(prefix="neurovae-memory-") as folder:
        network = paper_decoder()
        net = write_netx(network, Path(folder) / "decoder.net")
        window = STEPS + latency(network)
        spikes = np.random.default_rng(0).uniform(size=(max(args.counts), 128, window)) < 0.3
        np.save(Path(folder) / "latent.npy", spikes)
        print(f"paper-size ESVAE decoder, {args.backend} {args.precision}, {window} steps a sample")
        print(f"{'command':<8} {'-n':>7} {'peak RSS MB':>12} {'seconds':>8}")
        for command in args.commands:
            peaks = []
            for count in sorted(args.counts):
                out = Path(folder) / f"{command}-{count}.{'npz' if command == 'run' else 'json'}"
                peak, seconds = measure([command, str(net), "--input", str(Path(folder) / "latent.npy"),
                                         "-n", str(count), "--backend", args.backend, "--precision", args.precision,
                                         "-o", str(out), "--no-progress"])
                peaks.append(peak)
                print(f"{command:<8} {count:>7} {peak:>12.0f} {seconds:>8.0f}", flush=True)
                out.unlink()
            print(f"{command}: peak at -n {max(args.counts)} / peak at -n {min(args.counts)} = "
                  f"{peaks[-1] / peaks[0]:.2f}x")


if __name__ == "__main__":
    main()
