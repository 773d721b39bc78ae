"""A sleep search's record: every trial in JSON and CSV, and a plot of the objective against the trials.

The search is its own evidence when no setting helps, so everything it tried is kept: the space, each trial's
setting, objective, weight change and firing rates (:func:`neurovae.sleep.search.run_search`; the STDP network's
search, :func:`neurovae.sleep.stdp_network.search.run_tadros_search`, writes its trials the same way).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from neurovae.io import atomic_path


def csv_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per trial: its state, objective, largest relative weight change, setting and layers."""
    rows = []
    params = list(dict.fromkeys(name for record in result["trials"] for name in record["params"]))
    for record in result["trials"]:
        row = {"trial": record["trial"], "state": record["state"], "feasible": record.get("feasible", ""),
               "objective_percent": record.get("objective", ""),
               "max_relative_change": record.get("max_relative_change", "")}
        row |= {name: record["params"].get(name, "") for name in params}
        for layer in record.get("layers", []):
            row |= {f"{layer['name']} firing rate": layer["firing_rate"],
                    f"{layer['name']} mean |dW|": layer["weight_change"]}
        rows.append(row)
    return rows


def plot(result: dict[str, Any], path: Path) -> None:
    """Objective against trial number (feasible, too much weight change), the best so far, and no sleep at 0.

    A search without a weight-change bound (``max_relative_change`` None) has only feasible trials; one with it
    gets a second panel, the objective against how far each trial moved the weights.
    """
    done = [r for r in result["trials"] if r["state"] == "done"]
    bounded = result["max_relative_change"] is not None
    fig = Figure(figsize=(12 if bounded else 7, 4))
    FigureCanvasAgg(fig)
    axes = fig.add_subplot(1, 2 if bounded else 1, 1)
    for feasible, style in ((True, {"marker": "o", "color": "tab:blue"}), (False, {"marker": "x", "color": "0.6"})):
        chosen = [r for r in done if r["feasible"] == feasible]
        if not chosen:
            continue
        bound = result["max_relative_change"]
        if bound is None:
            label = "trial"
        else:
            label = f"trial moving {'each layer by <=' if feasible else 'a layer by >'} {bound:.0%} of |W|"
        axes.scatter([r["trial"] for r in chosen], [r["objective"] for r in chosen], label=label, **style)
    best, steps, values = None, [], []
    for record in done:
        if record["feasible"] and (best is None or record["objective"] > best):
            best = record["objective"]
        if best is not None:
            steps.append(record["trial"])
            values.append(best)
    axes.step(steps, values, where="post", color="tab:red", label="best so far")
    axes.axhline(0, color="black", linestyle="--", linewidth=1, label="no sleep")
    axes.set_xlabel("trial")
    label = result.get("objective_label", "gain over no sleep (%, PSNR and probe, noisy)")
    axes.set_ylabel(label)
    axes.set_title(f"sleep search, seed {result['seed']}, {len(result['trials'])} trials")
    axes.legend(fontsize=8)
    if bounded:
        _objective_against_change(fig.add_subplot(1, 2, 2), done, result["max_relative_change"], label)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _objective_against_change(axes: Any, done: list[dict[str, Any]], bound: float, label: str) -> None:
    """Each trial's objective against its largest relative weight change (log), with the bound marked."""
    changes = [max(r["max_relative_change"], 1e-6) for r in done]  # an unchanged network sits at the left edge
    axes.scatter(changes, [r["objective"] for r in done], color="tab:blue")
    axes.axvline(bound, color="tab:red", linestyle=":", label="bound")
    axes.axhline(0, color="black", linestyle="--", linewidth=1, label="no sleep")
    axes.set_xscale("log")
    axes.set_xlabel("largest mean |dW| / mean |W| of a layer (1e-6: unchanged)")
    axes.set_ylabel(label)
    axes.set_title("gain against how far the sleep moved the weights")
    axes.legend(fontsize=8)


def trial_log(out: Path, show: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """A search's ``progress``: append each trial to ``out/trials.jsonl`` as it ends, then ``show`` it.

    A search stopped before its end keeps what it measured; the file starts empty.
    """
    out.mkdir(parents=True, exist_ok=True)
    log = out / "trials.jsonl"
    log.write_text("")

    def report(record: dict[str, Any]) -> None:
        with log.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        show(record)

    return report


def write_search(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``trials.json``, ``trials.csv`` and ``search.png`` into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "trials.json", out / "trials.csv", out / "search.png"]
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    rows = csv_rows(result)
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(paths[1]) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    plot(result, paths[2])
    return paths


def describe_best(result: dict[str, Any]) -> str:
    """One line: the best feasible setting and its gain, or that no feasible setting was found."""
    best = result["best"]
    if best is None:
        return "no trial moved the weights within the bound and slept; see trials.json"
    params = best["params"]
    rate = f"input rate {params['input_rate_hz']:.3g} Hz" if params["encoding"] == "rate" else "intensity encoding"
    return (f"best: trial {best['trial']}, {best['objective']:+.2f} % over no sleep (threshold scale "
            f"{params['threshold_scale']:.3g}, {rate}, a_LTP {params['a_ltp']:.3g}, a_LTD {params['a_ltd']:.3g}, "
            f"duration {params['duration']}, leak {params['leak']:.3g}; largest relative weight change "
            f"{best['max_relative_change']:.1%})")
