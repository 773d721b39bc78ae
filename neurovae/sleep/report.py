"""What a VAE-sleep did, said plainly: a warning per layer that never fired or did not change, and a table.

A sleep whose layers stay silent changes nothing, yet it writes a "slept" run that looks like any other; with
Table 3's thresholds that is the usual outcome on a small network. The warnings make that visible in one line per
layer and name the settings that change it. Each ``layer`` entry is one of :func:`neurovae.sleep.run.sleep_model`'s
``summary["layers"]``: ``name``, ``mirror``, ``firing_rate``, ``weight_change`` (mean |dW|) and ``weight_magnitude``
(mean |W| before the sleep).
"""

from __future__ import annotations

from typing import Any

SILENT = ("raise the input rate (--input-rate) or lower the thresholds (--thresholds, or --calibrate to fire at "
          "rho)")
"""What makes a silent layer fire: more input spikes, or a lower threshold on the same input."""


def sleep_warnings(layers: list[dict[str, Any]]) -> list[str]:
    """One line per layer that never fired (rate 0) or whose weights did not change (mean |dW| 0)."""
    warnings, silent_before = [], None
    for layer in layers:
        name, rate, change = layer["name"], layer["firing_rate"], layer["weight_change"]
        if rate == 0:
            cause = f"; its input layer {silent_before} never fired either" if silent_before else ""
            warnings.append(f"layer {name} never fired during sleep (rate 0{cause}): {SILENT}; its weights did "
                            "not change")
            silent_before = silent_before or name
        elif change == 0:
            warnings.append(f"layer {name} fired (rate {rate:.2e}) but its weights did not change (mean |dW| 0): "
                            "raise a_LTP / a_LTD (--a-ltp, --a-ltd) or sleep longer (--duration); in fixed point "
                            "a change under one weight unit rounds away")
    return warnings


def relative_change(layer: dict[str, Any]) -> float:
    """Mean |dW| over mean |W|: how much of the trained weights the sleep moved (0 for an all-zero layer)."""
    return layer["weight_change"] / layer["weight_magnitude"] if layer["weight_magnitude"] else 0.0


def sleep_table(layers: list[dict[str, Any]]) -> str:
    """A fixed-width table: layer (and its mirror), firing rate, mean |dW|, mean |W| and their ratio."""
    header = ("layer (mirror)", "firing rate", "mean |dW|", "mean |W|", "relative change")
    rows = [(f"{layer['name']} ({layer['mirror']})", f"{layer['firing_rate']:.2e}", f"{layer['weight_change']:.2e}",
             f"{layer['weight_magnitude']:.2e}", f"{relative_change(layer):.2%}") for layer in layers]
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                               for column, (cell, width) in enumerate(zip(row, widths, strict=True)))
                     for row in (header, *rows))
