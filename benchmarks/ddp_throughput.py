"""Data-parallel training throughput: one process against N torchrun processes, same global batch.

Usage::

    python benchmarks/ddp_throughput.py                                  # paper ESVAE, batch 256, 1 vs 2 processes
    python benchmarks/ddp_throughput.py --config configs/esvae_fmnist_small.yaml --batch-size 64 --images 2048

Each setting trains one epoch of ``--images`` Fashion-MNIST images with ``neurovae train`` (``torchrun`` for
N > 1, gloo on CPUs), from a fresh run folder; the figure is the run's own ``images_per_s`` in ``history.jsonl``
(training steps only: start-up, data loading before the first step and the checkpoint excluded). One process uses
every core (``torch.set_num_threads`` default); N processes get ``cores / N`` threads each (``OMP_NUM_THREADS``),
so both settings use the same cores. Prints the figures and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def throughput(config: Path, out: Path, processes: int, cores: int) -> float:
    """Images per second of one epoch trained by ``processes`` processes sharing ``cores`` cores."""
    command = [sys.executable, "-m", "neurovae.cli.main"]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                   f"--master_port={_port()}", "-m", "neurovae.cli.main"]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // processes))}
    done = subprocess.run([*command, "train", str(config), "--out", str(out), "--no-progress"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"training with {processes} process(es) failed:\n{done.stderr[-3000:]}")
    return float(json.loads((out / "history.jsonl").read_text().splitlines()[-1])["images_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "esvae_fmnist.yaml"))
    parser.add_argument("--batch-size", type=int, default=256, help="global batch (default 256, the paper's)")
    parser.add_argument("--images", type=int, default=2048, help="training images of the timed epoch")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    raw = yaml.safe_load(Path(args.config).read_text())
    raw.setdefault("data", {})["train_limit"] = args.images
    raw["train"].update(epochs=1, batch_size=args.batch_size, validate_images=0, checkpoint_every=0, compile=False)
    with tempfile.TemporaryDirectory(prefix="neurovae-ddp-") as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(yaml.safe_dump(raw))
        print(f"{Path(args.config).name}, global batch {args.batch_size}, {args.images} images, {args.cores} cores")
        rates = {}
        for count in args.processes:
            rates[count] = throughput(config, Path(folder) / f"run{count}", count, args.cores)
            print(f"{count} process(es): {rates[count]:.1f} images/s", flush=True)
        base = rates[args.processes[0]]
        for count, rate in rates.items():
            print(f"{count} vs {args.processes[0]}: {rate / base:.2f}x")


if __name__ == "__main__":
    main()
