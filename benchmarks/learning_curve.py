"""Test MSE of neurovae and the reference implementation at equal images seen, trained on the same batches.

Usage::

    python benchmarks/learning_curve.py --reference /tmp/esvae-ref                     # 3 seeds, 2k/10k/60k images
    python benchmarks/learning_curve.py --reference /tmp/esvae-ref --seeds 0 --at 2000 10000
    python benchmarks/learning_curve.py --reference /tmp/esvae-ref --out runs/curve.json   # resumable

For each seed both models are initialized from that seed and trained in one process on the same Fashion-MNIST
batches (one order per seed), one step of each in turn, at the config's settings (default: the paper's,
``configs/esvae_fmnist.yaml``). When ``images seen`` passes a mark of ``--at``, both are evaluated as the
reference's ``test()`` does: eval mode, latent sampled, per-pixel MSE on [-1, 1], on the same ``--test-images``
test images with the same sampling seed. The reference runs with its LIF loop and (3, 3, 1) convolutions
rewritten in memory (same math, ``benchmarks/reference.py``) so that it trains fast enough to follow;
``--original-reference`` keeps its code as it is. Seeds finished in ``--out`` are read back, not retrained; an
unfinished one continues from its last checkpoint; the curves of both are plotted beside it (``--out`` with
``.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from reference import PAPER_CONFIG, Trainer, build_reference  # noqa: E402
from train_throughput import build_ours  # noqa: E402

from neurovae.config import load_config  # noqa: E402
from neurovae.data import load_dataset  # noqa: E402


@torch.no_grad()
def test_mse(trainer: Trainer, test_images: torch.Tensor, seed: int, batch_size: int) -> float:
    """Per-pixel MSE of the eval-mode reconstructions, the latent sampled from a fixed seed."""
    torch.manual_seed(seed)
    total = 0.0
    for start in range(0, len(test_images), batch_size):
        images = test_images[start:start + batch_size]
        total += torch.nn.functional.mse_loss(trainer.reconstruct(images), images, reduction="sum").item()
    return total / test_images.numel()


def run_seed(args: argparse.Namespace, config, seed: int, train_images: torch.Tensor,
             test_images: torch.Tensor) -> list[dict]:
    """Train both implementations from ``seed`` on the same batches; their test MSE at each mark.

    With ``--out``, both networks, their optimizers and the position in the data are saved every
    ``--checkpoint-every`` batches, and a restarted run continues from there to the same figures: every step
    seeds its own draws from the images seen, so nothing else carries state.
    """
    device = torch.device("cpu")
    torch.manual_seed(seed)
    ours = build_ours(config, device, args.compile)
    torch.manual_seed(seed)
    reference = build_reference(args.model, args.reference, config, device, patched=not args.original_reference,
                                compile_model=args.compile)
    trainers = [ours, reference]
    batch, marks = config.train.batch_size, sorted(args.at)
    progress = {"seen": 0, "position": 0, "rows": [], "seconds": 0.0, "losses": {t.name: 0.0 for t in trainers},
                "order": torch.randperm(len(train_images), generator=torch.Generator().manual_seed(seed))}
    checkpoint = args.out.with_suffix(f".seed{seed}.pt") if args.out else None
    if checkpoint and checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        for trainer, state in zip(trainers, saved.pop("trainers"), strict=True):
            trainer.load_state_dict(state)
        progress.update(saved)
        print(f"seed {seed}: continuing from {checkpoint} at {progress['seen']:,} images")
    marks = [m for m in marks if m > progress["seen"]]
    seen, position, order, losses = progress["seen"], progress["position"], progress["order"], progress["losses"]
    rows = progress["rows"]
    bar = tqdm(total=max(args.at), initial=seen, desc=f"seed {seed}", unit="image", disable=args.no_progress)
    started = time.perf_counter() - progress["seconds"]
    while marks:
        if position + batch > len(order):  # next epoch: a new order from the same seed
            order = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(seed + seen))
            position = 0
        images = train_images[order[position:position + batch]]
        position += batch
        for trainer in trainers:
            torch.manual_seed(seed * 1_000_003 + seen)  # the same latent-sampling draws for both
            losses[trainer.name] = trainer.step(images)
        seen += batch
        bar.update(batch)
        bar.set_postfix({t.name.split()[0]: f"{losses[t.name]:.3f}" for t in trainers})
        while marks and seen >= marks[0]:
            row = {"seed": seed, "images": seen, "seconds": round(time.perf_counter() - started, 1)}
            for key, trainer in zip(("neurovae", "reference"), trainers, strict=True):
                row[key] = test_mse(trainer, test_images, 10_000 + seed, args.eval_batch)
                row[f"{key}_train_loss"] = losses[trainer.name]
            rows.append(row)
            bar.write(f"seed {seed}, {seen:,} images: test MSE neurovae {row['neurovae']:.4f}, "
                      f"reference {row['reference']:.4f}")
            marks.pop(0)
        if checkpoint and marks and (seen // batch) % args.checkpoint_every == 0:
            save_atomically(checkpoint, {"trainers": [t.state_dict() for t in trainers], "seen": seen,
                                         "position": position, "order": order, "rows": rows, "losses": losses,
                                         "seconds": time.perf_counter() - started})
    bar.close()
    return rows


def save_atomically(path: Path, state: dict) -> None:
    """``torch.save`` to a temporary file renamed over ``path``: an interrupted save leaves the last one whole."""
    partial = path.with_suffix(path.suffix + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def spread(values: list[float]) -> str:
    """`` ± std`` over seeds, when there are several."""
    return f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""


def summarize(rows: list[dict], marks: list[int]) -> bool:
    """Print the table of means over seeds; True when neurovae <= reference at every mark."""
    print(f"\n{'images seen':>12} {'seeds':>5} {'neurovae MSE':>17} {'reference MSE':>17} {'ratio':>6}  ours <= ref")
    all_good = True
    for mark in marks:
        at = [r for r in rows if r.get("mark") == mark]
        if not at:
            continue
        ours, ref = [r["neurovae"] for r in at], [r["reference"] for r in at]
        good = all(o <= f for o, f in zip(ours, ref, strict=True))
        all_good &= good
        print(f"{mark:>12,} {len(at):>5} {statistics.mean(ours):>8.4f}{spread(ours):<9} "
              f"{statistics.mean(ref):>8.4f}{spread(ref):<9} {statistics.mean(ours) / statistics.mean(ref):>6.2f}  "
              f"{'yes' if good else 'NO'} (per seed: "
              + ", ".join(f"{o:.3f}/{f:.3f}" for o, f in zip(ours, ref, strict=True)) + ")")
    return all_good


def plot(rows: list[dict], marks: list[int], path: Path) -> None:
    """Test MSE against images seen, mean and spread over seeds, both implementations."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3.5))
    axes = figure.subplots()
    for key, style in (("neurovae", "o-"), ("reference", "s--")):
        points = [(m, [r[key] for r in rows if r.get("mark") == m]) for m in marks]
        points = [(m, v) for m, v in points if v]
        means = [statistics.mean(v) for _, v in points]
        spreads = [statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in points]
        axes.errorbar([m for m, _ in points], means, yerr=spreads, fmt=style, capsize=3, label=key)
    axes.set_xscale("log")
    axes.set_xlabel("training images seen")
    axes.set_ylabel("test MSE on [-1, 1]")
    axes.set_title(f"ESVAE at the paper's settings, {len({r['seed'] for r in rows})} seeds")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    FigureCanvasAgg(figure).print_png(str(path))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", metavar="DIR", required=True,
                        help="checkout of the reference code (esvae: github.com/QgZhan/ESVAE)")
    parser.add_argument("--model", default="esvae")
    parser.add_argument("--config", help="run config YAML (default: configs/MODEL_fmnist.yaml, the paper's settings)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--at", type=int, nargs="+", default=[2000, 10000, 60000], metavar="IMAGES",
                        help="images seen at which both are tested")
    parser.add_argument("--batch-size", type=int, help="training batch (default: the config's)")
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--eval-batch", type=int, default=250)
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile both implementations' training forward (same math, faster)")
    parser.add_argument("--original-reference", action="store_true",
                        help="run the reference's code unpatched (slower, same math)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, help="JSON of every seed's rows; finished seeds are read back, and an "
                        "unfinished seed continues from OUT.seedN.pt")
    parser.add_argument("--checkpoint-every", type=int, default=10, metavar="BATCHES",
                        help="with --out, save the unfinished seed every BATCHES batches (default 10)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.config = args.config or str(REPO / PAPER_CONFIG.format(model=args.model))
    if (min(args.at) < 1 or args.test_images < 1 or args.checkpoint_every < 1
            or (args.batch_size is not None and args.batch_size < 1)):
        parser.error("--at, --test-images, --checkpoint-every and --batch-size must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"train.batch_size": args.batch_size} if args.batch_size else {}
    config = load_config(args.config, overrides)
    config.train.device = "cpu"
    size = config.model.image_size
    train_images = load_dataset(config.data.dataset, None, "train", size).images
    test_images = load_dataset(config.data.dataset, None, "test", size, limit=args.test_images).images
    marks = sorted(set(args.at))
    done: list[dict] = json.loads(args.out.read_text())["rows"] if args.out and args.out.is_file() else []
    print(f"{args.model} learning curve, {Path(args.config).name}: batch {config.train.batch_size}, lr "
          f"{config.train.lr}, T={config.model.steps}; {len(test_images)} test images; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    for seed in args.seeds:
        have = {r["mark"] for r in done if r["seed"] == seed}
        if set(marks) <= have:
            print(f"seed {seed}: read back from {args.out}")
            continue
        args.at = marks
        rows = run_seed(args, config, seed, train_images, test_images)
        for mark, row in zip(marks, rows, strict=True):
            row["mark"] = mark
        done = [r for r in done if r["seed"] != seed] + rows
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"config": args.config, "batch_size": config.train.batch_size,
                                            "test_images": len(test_images), "rows": done}, indent=1))
            args.out.with_suffix(f".seed{seed}.pt").unlink(missing_ok=True)
    good = summarize([r for r in done if r["seed"] in args.seeds], marks)
    if args.out:
        plot([r for r in done if r["seed"] in args.seeds], marks, args.out.with_suffix(".png"))
        print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    print("neurovae <= reference at every mark and seed" if good else "neurovae is above the reference somewhere")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
