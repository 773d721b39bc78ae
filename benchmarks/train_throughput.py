"""Training throughput (images/s) and peak memory of ESVAE or FSVAE, optionally beside the reference code.

Usage::

    python benchmarks/train_throughput.py                                  # ours, CPU, batch 32, paper settings
    python benchmarks/train_throughput.py --reference /tmp/esvae-ref       # + QgZhan/ESVAE, same batches, ratio
    python benchmarks/train_throughput.py --model fsvae --reference /tmp/fsvae-ref   # + kamata1729/FullySpikingVAE
    python benchmarks/train_throughput.py --config configs/esvae_fmnist_small.yaml --batch-size 64
    python benchmarks/train_throughput.py --device cuda --batch-size 256 --reference /tmp/esvae-ref

One timed step is forward + loss + backward + optimizer step (+ ``loss.item()``, as both training loops do).
Both implementations train on the same batches (real Fashion-MNIST when found, else uniform noise in
[-1, 1]) in one process, their timed steps interleaved one by one so that a change in the machine's load
hits both alike; warmup steps are not timed. Peak memory: ``torch.cuda.max_memory_allocated`` on a GPU;
on the CPU the peak RSS (``VmHWM``) of a fresh process that trains only that implementation for
``1 + 1`` steps (RSS is per process, so it cannot be split inside one process).

The reference implementations (https://github.com/QgZhan/ESVAE, https://github.com/kamata1729/FullySpikingVAE)
are never vendored: pass ``--reference DIR`` pointing at a checkout of the one for ``--model``. The reference FSVAE
trains as its ``main_fsvae.py`` does in the first epoch (scheduled sampling with p = 0.1, the MMD loss), as ours
does (``scheduled_p_start``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from reference import PAPER_CONFIG, Trainer, build_reference  # noqa: E402

from neurovae.config import load_config  # noqa: E402
from neurovae.registry import MODELS  # noqa: E402
from neurovae.train.loop import build_optimizer  # noqa: E402


def build_ours(config, device: torch.device, compile_model: bool) -> Trainer:
    """neurovae's model, with the training loop's optimizer and loss (``neurovae.train.loop``)."""
    model = MODELS.create(config.model_name, config.model).to(device)
    optimizer = build_optimizer(model, config)
    forward = torch.compile(model) if compile_model else model

    def step(images: torch.Tensor) -> float:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        losses = model.loss(images, forward(images))
        losses["loss"].backward()
        optimizer.step()
        return losses["loss"].item()

    @torch.no_grad()
    def reconstruct(images: torch.Tensor) -> torch.Tensor:
        model.eval()
        return model(images).reconstruction

    return Trainer("neurovae" + (" (compiled)" if compile_model else ""), step, reconstruct, (model, optimizer))


def make_batches(count: int, batch_size: int, image_size: int, source: str, device: torch.device):
    """``count`` batches of training images in [-1, 1] and a word saying where they came from."""
    if source == "fashion_mnist":
        from neurovae.data import load_dataset
        from neurovae.data.errors import DataError

        try:
            data = load_dataset("fashion_mnist", None, "train", image_size, limit=count * batch_size)
            images = data.images
            return [images[i * batch_size:(i + 1) * batch_size].to(device) for i in range(count)], "fashion_mnist"
        except DataError as error:
            print(f"(no Fashion-MNIST: {error}; timing on random images)", file=sys.stderr)
    generator = torch.Generator().manual_seed(0)
    batches = [torch.rand(batch_size, 1, image_size, image_size, generator=generator) * 2 - 1 for _ in range(count)]
    return [b.to(device) for b in batches], "random"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_step(trainer: Trainer, images: torch.Tensor, device: torch.device) -> tuple[float, float]:
    """Wall-clock and process-CPU seconds of one training step (``loss.item()`` syncs; on a GPU also an
    explicit sync). CPU seconds count every thread of this process and no other process, so they move
    less than wall-clock time when other programs share the cores."""
    _sync(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    trainer.step(images)
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu_start


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status`` (``ru_maxrss`` would also count the parent's RSS at fork time,
    which survives ``exec``); elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


IMPLEMENTATIONS = ("ours", "patched", "original")  # neurovae; the reference patched in memory; as published


def chosen_implementations(args: argparse.Namespace) -> list[str]:
    """What to time: ours, and with ``--reference`` the patched reference and (unless ``--no-original``) the
    original one."""
    if not args.reference:
        return ["ours"]
    return ["ours", "patched"] if args.no_original else list(IMPLEMENTATIONS)


def probe_cpu_memory(args: argparse.Namespace, which: str) -> float | None:
    """Peak RSS (MiB) of a fresh process that trains only ``which`` for one warmup and one timed step."""
    command = [sys.executable, __file__, "--model", args.model, "--config", args.config,
               "--batch-size", str(args.batch_size), "--steps", "1", "--warmup", "1", "--device", "cpu",
               "--data", args.data, "--memory-probe", which]
    command += ["--threads", str(args.threads)] if args.threads else []
    command += ["--reference", args.reference] if args.reference else []
    command += ["--compile"] if args.compile else []
    command += ["--no-original"] if args.no_original else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        print(f"(memory probe of {which} failed: {done.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="esvae", help="registered model name (default esvae)")
    parser.add_argument("--config", help="run config YAML (default: configs/MODEL_fmnist.yaml, the paper's settings)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per implementation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per implementation first")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model (reports compile time)")
    parser.add_argument("--reference", metavar="DIR", help="checkout of the reference code of --model to time as well "
                        "(esvae: github.com/QgZhan/ESVAE, fsvae: github.com/kamata1729/FullySpikingVAE)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--data", choices=("fashion_mnist", "random"), default="fashion_mnist")
    parser.add_argument("--no-memory", action="store_true", help="skip the CPU peak-RSS probes (faster)")
    parser.add_argument("--no-original", action="store_true",
                        help="time only the patched reference, not also its original code (slow at large batches)")
    parser.add_argument("--memory-probe", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.config = args.config or str(REPO / PAPER_CONFIG.format(model=args.model))
    if args.batch_size < 1 or args.steps < 1 or args.warmup < 0:
        parser.error("--batch-size and --steps must be positive, --warmup non-negative")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda asked for, but torch sees no CUDA device")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = load_config(args.config, {"train.batch_size": args.batch_size})
    if config.model_name != args.model:
        raise SystemExit(f"--config {args.config} is a {config.model_name} config, not {args.model}")
    config.train.device = args.device

    memory: dict[str, str] = {}
    if device.type == "cpu" and not args.no_memory and not args.memory_probe:  # fresh processes, run first
        for which in chosen_implementations(args):
            mib = probe_cpu_memory(args, which)
            memory[which] = "n/a" if mib is None else f"{mib / 1024:.2f} GiB (peak RSS)"

    torch.manual_seed(0)
    compile_seconds = None
    which_trainers = [args.memory_probe] if args.memory_probe else chosen_implementations(args)
    trainers = []
    for which in which_trainers:
        torch.manual_seed(0)
        trainers.append(build_ours(config, device, args.compile) if which == "ours" else
                        build_reference(args.model, args.reference, config, device, patched=which == "patched"))
    batches, source = make_batches(args.warmup + args.steps, args.batch_size, config.model.image_size,
                                   args.data, device)

    times: dict[str, list[float]] = {t.name: [] for t in trainers}
    cpu_times: dict[str, list[float]] = {t.name: [] for t in trainers}
    peak_gpu: dict[str, int] = {t.name: 0 for t in trainers}
    for trainer in trainers:  # warmup (and compilation), not timed
        for i in range(args.warmup):
            seconds, _ = timed_step(trainer, batches[i], device)
            if i == 0 and args.compile and trainer is trainers[0]:
                compile_seconds = seconds
    for i in range(args.warmup, args.warmup + args.steps):  # interleaved, so load changes hit both alike
        for trainer in trainers:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            wall, cpu = timed_step(trainer, batches[i], device)
            times[trainer.name].append(wall)
            cpu_times[trainer.name].append(cpu)
            if device.type == "cuda":
                peak_gpu[trainer.name] = max(peak_gpu[trainer.name], torch.cuda.max_memory_allocated(device))

    if args.memory_probe:
        print(json.dumps({"peak_rss_mib": peak_rss_mib()}))
        return

    for trainer, which in zip(trainers, which_trainers, strict=True):
        if device.type == "cuda":
            memory[which] = f"{peak_gpu[trainer.name] / 2**30:.2f} GiB (CUDA max allocated)"

    model = config.model
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"{args.model} training throughput on {where}, torch {torch.__version__}")
    print(f"  config {Path(args.config).name}: channels {'-'.join(map(str, model.channels))}, latent "
          f"{model.latent_dim}, T={model.steps}, {model.image_size}x{model.image_size}; data: {source}; "
          f"{args.steps} timed steps each after {args.warmup} warmup, interleaved")
    if compile_seconds is not None:
        print(f"  torch.compile: first (compiling) step took {compile_seconds:.1f} s")
    print(f"{'implementation':<35} {'batch':>5} {'images/s':>9} {'s/step':>7} {'min':>7}  "
          f"{'CPU s/step':>10}  peak memory")
    rates, cpu_rates = {}, {}
    for trainer, which in zip(trainers, which_trainers, strict=True):
        spent, cpu = times[trainer.name], cpu_times[trainer.name]
        rates[trainer.name] = args.batch_size * len(spent) / sum(spent)
        cpu_rates[trainer.name] = args.batch_size * len(cpu) / sum(cpu)
        print(f"{trainer.name:<35} {args.batch_size:>5} {rates[trainer.name]:>9.1f} {statistics.median(spent):>7.2f} "
              f"{min(spent):>7.2f}  {statistics.median(cpu):>10.2f}  {memory.get(which, '-')}")
    ours = trainers[0].name
    for trainer in trainers[1:]:
        print(f"ratio ours / {trainer.name}: {rates[ours] / rates[trainer.name]:.2f}x images/s (wall clock); "
              f"{cpu_rates[ours] / cpu_rates[trainer.name]:.2f}x images per CPU-second")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
