"""Train a model at the paper's settings epoch by epoch, evaluating it after every epoch; resumable.

Usage::

    python examples/paper_training.py                                   # ESVAE, configs/esvae_fmnist.yaml, 4 epochs
    python examples/paper_training.py --config configs/fsvae_fmnist.yaml --epochs 1 --out runs/fsvae_fmnist_paper
    python examples/paper_training.py --reference-mse 0.246 0.210 0.194 0.181   # a reference run's test MSE per epoch

Each epoch is ``neurovae train CONFIG --out RUN --epochs k --resume --compile`` (the run checkpoints every
``train.checkpoint_every`` batches, so a killed run continues where it stopped when the script is started
again) followed by ``neurovae eval RUN --out RUN/eval-epoch-k``: test MSE on [-1, 1], PSNR, SSIM, FAD with
neurovae's autoencoder (fitted first with ``neurovae fad-fit`` when ``runs/fad`` has none: ``--fad-epochs``
over ``--fad-images`` training images), the linear probe,
and the reconstruction and prior-sample grids. Epochs already evaluated are not evaluated again. At the end,
``RUN/epochs.md`` tabulates every epoch, and ``RUN/learning_curve.png`` plots the per-epoch test MSE (with
``--reference-mse``, beside a reference run's figures at the same images seen).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import neurovae  # noqa: E402

COLUMNS = (("mse", "MSE [-1,1]"), ("psnr", "PSNR dB"), ("ssim", "SSIM"), ("fad", "FAD"), ("probe_accuracy", "probe"))


def run_command(*argv: str) -> None:
    """One ``neurovae`` command; a failure stops the script with its exit code."""
    print("$ neurovae " + " ".join(argv), flush=True)
    code = neurovae.run_command(list(argv))
    if code:
        raise SystemExit(code)


def epoch_metrics(run: Path, epochs: int) -> list[dict]:
    """``metrics.json`` of every evaluated epoch (each records the images seen by then)."""
    rows = []
    for epoch in range(1, epochs + 1):
        metrics = run / f"eval-epoch-{epoch}" / "metrics.json"
        if metrics.is_file():
            values = json.loads(metrics.read_text())
            rows.append({"epoch": epoch, "images": values["images_seen"], **values})
    return rows


def write_summary(run: Path, rows: list[dict], reference: list[float]) -> None:
    """``epochs.md`` and ``learning_curve.png`` from the evaluated epochs."""
    header = "| epoch | images seen | " + " | ".join(title for _, title in COLUMNS) + " | reference MSE |"
    lines = [header, "|" + " --- |" * (len(COLUMNS) + 3)]
    for row in rows:
        values = [f"{row[key]:.4g}" if isinstance(row.get(key), float) else "" for key, _ in COLUMNS]
        ref = f"{reference[row['epoch'] - 1]:.3f}" if row["epoch"] <= len(reference) else ""
        lines.append(f"| {row['epoch']} | {row['images']:,} | " + " | ".join(values) + f" | {ref} |")
    (run / "epochs.md").write_text("\n".join(lines) + "\n")
    figure = Figure(figsize=(5, 3.5))
    axes = figure.subplots()
    axes.plot([r["images"] for r in rows], [r["mse"] for r in rows], "o-", label="neurovae")
    if reference:
        per_epoch = rows[-1]["images"] / rows[-1]["epoch"] if rows else 0
        axes.plot([per_epoch * (i + 1) for i in range(len(reference))], reference, "s--", label="reference")
    axes.set_xlabel("training images seen")
    axes.set_ylabel("test MSE on [-1, 1]")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    FigureCanvasAgg(figure).print_png(str(run / "learning_curve.png"))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "esvae_fmnist.yaml"))
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<config name>_paper)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--data", help="folder with the dataset's files (default: the config's)")
    parser.add_argument("--eval-samples", type=int, default=10000, help="test images per evaluation")
    parser.add_argument("--probe-images", type=int, default=10000, help="training images for the linear probe")
    parser.add_argument("--no-fad", action="store_true", help="skip FAD (and fitting its autoencoder)")
    parser.add_argument("--fad-epochs", type=int, default=3, help="epochs of the FAD autoencoder, when fitted here")
    parser.add_argument("--fad-images", type=int, default=20000, help="training images of the FAD autoencoder")
    parser.add_argument("--reference-mse", type=float, nargs="*", default=[],
                        help="a reference run's test MSE after epoch 1, 2, ... (plotted and tabulated beside ours)")
    parser.add_argument("--no-compile", action="store_true", help="train without torch.compile")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    run = args.out or Path("runs") / f"{Path(args.config).stem}_paper"
    data = ["--data", args.data] if args.data else []
    config = neurovae.load_config(args.config)
    fad = neurovae.default_fad_path(config.data.dataset, config.data.image_size)
    if not fad.is_file() and not args.no_fad:
        run_command("fad-fit", args.config, *data, "--epochs", str(args.fad_epochs), "--limit", str(args.fad_images),
                    "--no-progress")
    fad_option = ["--fad", str(run / "no-fad-autoencoder")] if args.no_fad else []  # a missing file: FAD skipped
    for epoch in range(1, args.epochs + 1):
        if (run / f"eval-epoch-{epoch}" / "metrics.json").is_file():
            continue
        resume = ["--resume"] if (run / "checkpoint.pt").is_file() else []
        run_command("train", args.config, "--out", str(run), "--epochs", str(epoch), *resume, *data,
                    *([] if args.no_compile else ["--compile"]))
        run_command("eval", str(run), "--out", str(run / f"eval-epoch-{epoch}"), "-n", str(args.eval_samples),
                    "--probe-images", str(args.probe_images), *fad_option, *data, "--no-progress",
                    "--force")  # no metrics.json: what is there is an interrupted evaluation's
    write_summary(run, epoch_metrics(run, args.epochs), args.reference_mse)


if __name__ == "__main__":
    main()
