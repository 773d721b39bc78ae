"""Confidence intervals over a few seeds: the mean and the half-width of Student's t interval.

With three seeds a standard deviation says little about where the mean lies; a paired difference (the same seed
with and without the treatment) and its t interval say whether an effect can be told apart from zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_and_interval(values: Sequence[float], level: float = 0.95) -> dict[str, float | None]:
    """Mean and the half-width of its Student's t confidence interval (None for a single value)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "half_width": None}
    spread = float(values.std(ddof=1)) / math.sqrt(len(values))
    return {"mean": mean, "half_width": float(stats.t.ppf((1 + level) / 2, len(values) - 1)) * spread}


def format_interval(summary: dict[str, float | None], digits: int) -> str:
    """``1.23 ± 0.45`` (the interval's half-width), or the mean alone for one value."""
    half = summary["half_width"]
    return f"{summary['mean']:.{digits}f}" + ("" if half is None else f" ± {half:.{digits}f}")
