"""``neurovae compare``: trained runs side by side with the papers' figures, and one image-grid row per model.

Every number of a run comes from its ``eval/metrics.json`` (written by ``neurovae eval``) and its
``history.jsonl`` (images seen); only the "paper" column is typed in (:mod:`neurovae.evaluate.papers`, with
sources). The grid reconstructs the same test images with every run of a dataset.

Example:
    >>> summaries = [summarize_run(run) for run in ("runs/esvae", "runs/fsvae")]  # doctest: +SKIP
    >>> print(markdown_table(summaries))                                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neurovae.config import RunConfig
from neurovae.errors import NeurovaeError
from neurovae.evaluate.papers import PaperFigure, paper_figure

METRICS = ("mse", "psnr", "ssim", "fad", "probe_accuracy", "intra_inter_distance_ratio", "noisy_psnr",
           "noisy_ssim", "reconstruction_loss")
"""Columns of the comparison, in order; a metric no run reports is left out."""


class CompareError(NeurovaeError):
    """A run cannot be compared (not a run, or not evaluated yet)."""


@dataclass(frozen=True)
class RunSummary:
    """What the comparison needs from one run."""

    path: Path
    config: RunConfig
    paper_model: str
    images_seen: int
    epochs: int
    metrics: dict[str, Any]


def row_labels(summaries: Sequence[RunSummary]) -> list[str]:
    """Each run's row name: the shortest ending of its path that no other run's path ends with, and its model.

    Rows are keyed by these names (the grid's rows too), so ``a/esvae`` and ``b/esvae`` must not both be ``esvae``.
    """
    paths = [summary.path.resolve().parts for summary in summaries]
    labels = []
    for index, (parts, summary) in enumerate(zip(paths, summaries, strict=True)):
        others = paths[:index] + paths[index + 1:]
        if parts in others:
            raise CompareError(f"{summary.path} is given twice; give each run once")
        depth = next(k for k in range(1, len(parts) + 1) if all(other[-k:] != parts[-k:] for other in others))
        labels.append(f"{Path(*parts[-depth:])} ({summary.paper_model})")
    return labels


def mixed_test_sizes(summaries: Sequence[RunSummary]) -> dict[str, list[int]]:
    """Datasets whose runs were evaluated on different numbers of test images, with those numbers.

    Their metrics are not directly comparable (FAD and the probe depend on the sample size), so the table says so.
    """
    sizes: dict[str, set[int]] = {}
    for summary in summaries:
        if summary.metrics.get("test_images") is not None:
            sizes.setdefault(summary.config.data.dataset, set()).add(summary.metrics["test_images"])
    return {dataset: sorted(counts) for dataset, counts in sorted(sizes.items()) if len(counts) > 1}


def paper_model(config: RunConfig, run_dir: Path) -> str:
    """The name under which the papers report this kind of run (``sae-dense``, ``vae-sleep`` ...)."""
    name, model = config.model_name, config.model
    if name == "sae":
        if not any(getattr(model, key, 0) for key in ("p1", "p2", "a1", "a1_latent", "l2")):
            return "sae"
        return "sae-sparse" if getattr(model, "p1", 0) else "sae-dense"
    if (run_dir / "sleep.json").is_file():
        return "vae-sleep"
    return name


def summarize_run(run: str | os.PathLike, eval_dir: str | os.PathLike | None = None) -> RunSummary:
    """Read a run's config, history and ``metrics.json`` (default ``RUN/eval``); one-line CompareError otherwise."""
    from neurovae.config import load_config

    root = Path(run)
    if not (root / "config.yaml").is_file():
        raise CompareError(f"{root} is not a run directory (no config.yaml); give folders made by `neurovae train`")
    metrics_path = Path(eval_dir) / "metrics.json" if eval_dir else root / "eval" / "metrics.json"
    if not metrics_path.is_file():
        raise CompareError(f"{root} has no {metrics_path.relative_to(root) if not eval_dir else metrics_path}; "
                           f"run `neurovae eval {root}` first")
    config = load_config(root / "config.yaml")
    metrics = json.loads(metrics_path.read_text())
    # as evaluated; metrics written before eval recorded it: the run as it is now
    seen = metrics["images_seen"] if "images_seen" in metrics else images_seen(root)
    return RunSummary(path=root, config=config, paper_model=paper_model(config, root), images_seen=seen,
                      epochs=len(_history(root)), metrics=metrics)


def _history(root: Path) -> list[dict[str, Any]]:
    history = root / "history.jsonl"
    return [json.loads(line) for line in history.read_text().splitlines() if line.strip()] if history.is_file() else []


def images_seen(root: str | os.PathLike, checkpoint: dict[str, Any] | None = None) -> int:
    """Training images of completed epochs (history) plus those of an unfinished epoch (mid-epoch checkpoint).

    A completed epoch without a history line (a run stopped between its checkpoint and its record) counts as many
    images as a recorded epoch of the run.

    ``checkpoint``: the run's checkpoint state when the caller has loaded it already (else it is read here).
    """
    from neurovae.train.checkpoint import load_checkpoint

    root = Path(root)
    recorded = [int(epoch.get("images", 0)) for epoch in _history(root)]
    if checkpoint is None and (root / "checkpoint.pt").is_file():
        checkpoint = load_checkpoint(root / "checkpoint.pt")
    checkpoint = checkpoint or {}
    lost = max(0, int(checkpoint.get("epoch", 0)) - len(recorded))  # epochs whose history line was never written
    per_epoch = max(recorded, default=0)  # every epoch of a run trains the same batches
    return sum(recorded) + lost * per_epoch + int(checkpoint.get("epoch_progress", {}).get("images", 0))


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def comparison_rows(summaries: Sequence[RunSummary]) -> tuple[list[str], list[list[str]], list[PaperFigure]]:
    """Header, one row per run (each metric as ``ours (paper)``), and the paper figures used."""
    metrics = [m for m in METRICS if any(m in s.metrics for s in summaries)]
    sizes = ["test images"] if mixed_test_sizes(summaries) else []
    header = ["run", "dataset", "images seen", *sizes, *metrics]
    rows, used = [], []
    for label, summary in zip(row_labels(summaries), summaries, strict=True):
        dataset = summary.config.data.dataset
        row = [label, dataset, str(summary.images_seen), *(_cell(summary.metrics.get("test_images")) for _ in sizes)]
        for metric in metrics:
            cell = _cell(summary.metrics.get(metric))
            figure = paper_figure(summary.paper_model, dataset, metric)
            if figure is not None:
                cell += f" ({figure.value:g})"
                used.append(figure)
            row.append(cell)
        rows.append(row)
    return header, rows, used


def markdown_table(summaries: Sequence[RunSummary]) -> str:
    """The comparison as a Markdown table, each cell ``ours (paper)``, with the papers' sources below."""
    header, rows, used = comparison_rows(summaries)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    for dataset, counts in mixed_test_sizes(summaries).items():
        lines += ["", f"Note: the {dataset} runs were evaluated on different numbers of test images "
                  f"({', '.join(map(str, counts))}), so their metrics are not directly comparable; evaluate each "
                  "with the same `neurovae eval RUN -n N`."]
    sources = sorted({(f.source, f.note) for f in used})
    if sources:
        lines += ["", "In parentheses: the paper's figure for the same model and dataset. Sources:"]
        lines += [f"- {source}" + (f" ({note})" if note else "") for source, note in sources]
    return "\n".join(lines)


@torch.no_grad()
def reconstructions(summary: RunSummary, images: torch.Tensor) -> torch.Tensor:
    """The run's reconstructions of ``images`` (its model from its checkpoint, eval mode, seeded)."""
    from neurovae.runs import load_run

    model, _ = load_run(summary.path)
    torch.manual_seed(summary.config.train.seed)
    return model(images).reconstruction


def save_model_grid(summaries: Sequence[RunSummary], out_dir: str | os.PathLike, count: int = 10,
                    data_dir: str | None = None) -> list[Path]:
    """One PNG per dataset and image size: ``count`` test images, then one row of reconstructions per run."""
    from neurovae.cli.common import open_dataset
    from neurovae.evaluate.grids import save_comparison_grid

    written, labels = [], dict(zip((s.path for s in summaries), row_labels(summaries), strict=True))
    groups = sorted({(s.config.data.dataset, s.config.data.image_size) for s in summaries})
    for dataset, size in groups:
        group = [s for s in summaries if (s.config.data.dataset, s.config.data.image_size) == (dataset, size)]
        test = open_dataset(group[0].config, "test", data_dir, count)
        images = torch.stack([test[i][0] for i in range(len(test))])
        rows = {"input": images} | {labels[s.path]: reconstructions(s, images) for s in group}
        path = Path(out_dir) / f"compare_{dataset}_{size}.png"
        save_comparison_grid(rows, path, title=f"{dataset} ({size}x{size}): test images and each model's "
                             "reconstruction", ncol=count)
        written.append(path)
    return written
