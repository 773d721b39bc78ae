"""Energy per image from operation counts: the spiking chip, the same network as an ANN, a table, JSON and a plot.

Spiking energy per layer (per sample) = synaptic ops x ``synaptic_op`` + active / inactive membrane updates x
``neuron_update_active`` / ``_inactive`` + output spikes x (``spike_within_tile`` + hops x ``tile_hop``) +
synaptic updates x ``synaptic_update``. The ANN baseline runs the same architecture once per image: one
multiply-accumulate per connection plus one add (the bias) per neuron, in fp32 and in int8. As a cross-check
that needs no chip figures, the spiking network's own operations are also priced on an ANN accelerator
(NeuroBench's effective ACs at the fp32 add, effective MACs at the fp32 MAC).

Example:
    >>> report = EnergyReport("decoder.net", counts, load_profile("loihi1"), load_profile("ann_horowitz2014"),
    ...                       backend="emulator", precision="fixed")  # doctest: +SKIP
    >>> print(report.table())                                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neurovae.energy.counts import LayerCounts
from neurovae.energy.profiles import EnergyProfile
from neurovae.errors import NeurovaeError
from neurovae.io import atomic_path

UNITS = ((1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ"))
"""pJ per unit, largest first: energies are written in the largest unit they reach (else pJ)."""
DEFINITIONS = {
    "synaptic_ops": "input events x their fan-out of non-zero synapses (NeuroBench effective ACs; MACs for "
                    "graded direct input); events at a sample's last step are never delivered and not counted",
    "active_updates": "neuron-steps whose voltage after the step differs from the step before, or that spike",
    "inactive_updates": "neuron-steps whose voltage does not change (idle compartments)",
    "activation_sparsity": "1 - output spikes / (neurons x steps)",
    "ann_macs": "one multiply-accumulate per connection per image (same architecture, non-spiking)",
}


@dataclass(frozen=True)
class EnergyReport:
    """Counts of one network priced with a spiking and an ANN profile (energies in pJ per sample)."""

    name: str
    layers: Sequence[LayerCounts]
    spiking: EnergyProfile
    ann: EnergyProfile
    backend: str
    precision: str
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.spiking.kind != "spiking" or self.ann.kind != "ann":
            raise NeurovaeError(f"energy profiles {self.spiking.name} / {self.ann.name} must be a spiking and an "
                                "ann profile (see neurovae/profiles/energy/)")

    def spiking_pj(self, layer: LayerCounts) -> dict[str, float]:
        """Energy parts of one layer on the spiking chip, pJ per sample."""
        p = self.spiking
        parts = {
            "synaptic": layer.per_sample("synaptic_ops") * p.pj("synaptic_op"),
            "neuron_active": layer.per_sample("active_updates") * p.pj("neuron_update_active"),
            "neuron_inactive": layer.per_sample("inactive_updates") * p.pj("neuron_update_inactive"),
            "spikes": layer.per_sample("output_spikes") * p.spike_message_pj,
            "learning": layer.per_sample("synaptic_updates") * p.pj("synaptic_update"),
        }
        return {**parts, "total": sum(parts.values())}

    def ann_pj(self, layer: LayerCounts) -> dict[str, float]:
        """Energy of one layer run once per image as an ANN (fp32 and int8), pJ per sample."""
        a = self.ann
        return {"fp32": layer.connections * a.pj("fp32_mac") + layer.neurons * a.pj("fp32_add"),
                "int8": layer.connections * a.pj("int8_mac") + layer.neurons * a.pj("int8_add")}

    def accelerator_pj(self, layer: LayerCounts) -> float:
        """The spiking layer's own operations on an fp32 ANN accelerator: ACs at an add, MACs at a MAC."""
        cost = self.ann.pj("fp32_mac") if layer.graded_input else self.ann.pj("fp32_add")
        return layer.per_sample("synaptic_ops") * cost

    def totals(self) -> dict[str, float]:
        """Whole-network energies per sample (pJ) and the ANN / SNN ratios."""
        snn = sum(self.spiking_pj(layer)["total"] for layer in self.layers)
        fp32 = sum(self.ann_pj(layer)["fp32"] for layer in self.layers)
        int8 = sum(self.ann_pj(layer)["int8"] for layer in self.layers)
        accelerator = sum(self.accelerator_pj(layer) for layer in self.layers)
        return {"snn_pj": snn, "ann_fp32_pj": fp32, "ann_int8_pj": int8, "snn_on_fp32_accelerator_pj": accelerator,
                "ann_fp32_over_snn": fp32 / snn if snn else float("inf"),
                "ann_int8_over_snn": int8 / snn if snn else float("inf")}

    def activation_sparsity(self) -> float:
        """NeuroBench's activation sparsity over every spiking (non-readout) layer."""
        spiking = [layer for layer in self.layers if not layer.readout]
        slots = sum(layer.neurons * layer.steps * layer.samples for layer in spiking)
        return 1.0 - sum(layer.output_spikes for layer in spiking) / slots if slots else 1.0

    def to_dict(self) -> dict:
        """A JSON-ready record: every count per sample, every energy, every constant with its source."""
        counted = ("input_events", "synaptic_ops", "active_updates", "inactive_updates", "output_spikes",
                   "synaptic_updates")
        layers = [{"index": layer.index, "type": layer.type, "neurons": layer.neurons,
                   "connections": layer.connections, "graded_input": layer.graded_input, "readout": layer.readout,
                   **{name: layer.per_sample(name) for name in counted},
                   "activation_sparsity": layer.activation_sparsity,
                   "spiking_pj": self.spiking_pj(layer), "ann_pj": self.ann_pj(layer),
                   "snn_on_fp32_accelerator_pj": self.accelerator_pj(layer)} for layer in self.layers]
        first = self.layers[0]
        return {"network": self.name, "backend": self.backend, "precision": self.precision,
                "samples": first.samples, "steps": first.steps, "per": "sample", "layers": layers,
                "totals": self.totals(), "activation_sparsity": self.activation_sparsity(),
                "profiles": {profile.kind: {"name": profile.name, "description": profile.description,
                                            "file": profile.path, "user_supplied": profile.user_supplied,
                                            "hops_per_spike": profile.hops_per_spike,
                                            "constants_pj": profile.constants, "sources": profile.sources}
                             for profile in (self.spiking, self.ann)},
                "definitions": DEFINITIONS, "notes": list(self.notes)}

    def table(self) -> str:
        """A printable per-layer table (per sample) with totals and the constants' sources."""
        lines = [f"{self.name}: {self.layers[0].samples} samples x {self.layers[0].steps} steps on {self.backend} "
                 f"({self.precision}); per sample, energies in nJ",
                 f"{'layer':>5} {'type':<6} {'neurons':>8} {'in events':>10} {'syn ops':>11} {'active':>9} "
                 f"{'spikes':>9} {'sparsity':>8} {'SNN nJ':>9} {'ANN fp32':>9} {'ANN int8':>9}"]
        for layer in self.layers:
            lines.append(f"{layer.index:>5} {layer.type:<6} {layer.neurons:>8}"
                         f" {layer.per_sample('input_events'):>10.0f} {layer.per_sample('synaptic_ops'):>11.0f}"
                         f" {layer.per_sample('active_updates'):>9.0f}"
                         f" {layer.per_sample('output_spikes'):>9.0f} {layer.activation_sparsity:>8.3f}"
                         f" {self.spiking_pj(layer)['total'] / 1e3:>9.2f} {self.ann_pj(layer)['fp32'] / 1e3:>9.2f}"
                         f" {self.ann_pj(layer)['int8'] / 1e3:>9.2f}")
        totals = self.totals()
        user = " (USER-SUPPLIED figures)" if self.spiking.user_supplied else ""
        lines += [f"total: SNN on {self.spiking.name}{user} {format_energy(totals['snn_pj'])}, ANN fp32 "
                  f"{format_energy(totals['ann_fp32_pj'])} ({totals['ann_fp32_over_snn']:.2f}x the SNN), ANN int8 "
                  f"{format_energy(totals['ann_int8_pj'])} ({totals['ann_int8_over_snn']:.2f}x), SNN ops on an "
                  f"fp32 accelerator {format_energy(totals['snn_on_fp32_accelerator_pj'])}; activation sparsity "
                  f"{self.activation_sparsity():.3f}"]
        lines += [f"  {name} = {profile.pj(name)} pJ: {profile.source(name)}"
                  for profile in (self.spiking, self.ann) for name in profile.constants]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def energy_unit(pj: float) -> tuple[str, float]:
    """The unit to write ``pj`` picojoules in, and pJ per unit: 77.9 µJ reads better than 77935.6 nJ."""
    return next(((name, scale) for scale, name in UNITS if abs(pj) >= scale), ("pJ", 1.0))


def format_energy(pj: float) -> str:
    """``pj`` picojoules in the unit of its magnitude, one decimal: ``77.9 µJ``."""
    name, scale = energy_unit(pj)
    return f"{pj / scale:.1f} {name}"


def write_reports(reports: Sequence[EnergyReport], path: str | os.PathLike) -> tuple[Path, Path]:
    """Write the JSON report and a per-layer bar plot beside it (``.png``), atomically; return both paths."""
    path = Path(path)
    png = path.with_suffix(".png")
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps({"reports": [report.to_dict() for report in reports]}, indent=2))
    with atomic_path(png) as tmp:
        plot_reports(reports, tmp)
    return path, png


def plot_reports(reports: Sequence[EnergyReport], path: str | os.PathLike) -> None:
    """Per-layer bars, one row per network: operations (SNN synaptic ops vs ANN MACs) and energy (SNN vs ANN)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(reports), 2, figsize=(12, 3.6 * len(reports)), squeeze=False)
    for row, report in zip(axes, reports, strict=True):
        labels = [f"{layer.index}:{layer.type}" for layer in report.layers]
        x = np.arange(len(labels))
        ops = {"SNN synaptic ops": [layer.per_sample("synaptic_ops") for layer in report.layers],
               "SNN membrane updates": [layer.per_sample("active_updates") + layer.per_sample("inactive_updates")
                                        for layer in report.layers],
               "ANN MACs": [layer.connections for layer in report.layers]}
        pj = {f"SNN ({report.spiking.name})": [report.spiking_pj(layer)["total"] for layer in report.layers],
              "ANN fp32": [report.ann_pj(layer)["fp32"] for layer in report.layers],
              "ANN int8": [report.ann_pj(layer)["int8"] for layer in report.layers]}
        unit, scale = energy_unit(max(max(values) for values in pj.values()))
        energy = {label: [value / scale for value in values] for label, values in pj.items()}
        for axis, series, ylabel in ((row[0], ops, "operations per sample"), (row[1], energy, f"{unit} per sample")):
            width = 0.8 / len(series)
            for k, (label, values) in enumerate(series.items()):
                axis.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=label)
            axis.set_xticks(x, labels)
            axis.set_yscale("log")
            axis.set_ylabel(ylabel)
            axis.legend(fontsize=8)
        row[0].set_title(f"{report.name}: operations ({report.backend}, {report.precision})", fontsize=10)
        totals = report.totals()
        row[1].set_title(f"{report.name}: energy, total SNN {format_energy(totals['snn_pj'])} vs ANN fp32 "
                         f"{format_energy(totals['ann_fp32_pj'])}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
