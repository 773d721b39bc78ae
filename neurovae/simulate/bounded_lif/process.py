"""LIFResetBounded: Lava's ``LIFReset`` with a lower bound on the voltage (its ProcessModels are in models.py).

Lava's LIF has no floor on ``v``; the SAE of Hübotter et al. 2021 clamps its membrane at ``-omega`` (eq. 4).
This Process adds one Var, ``v_min`` (<= 0; device units in floating point, the mantissa in fixed point, which
the model shifts left by 6 bits like ``vth``), and after each step, once spikes are reset to 0::

    v <- max(v, v_min)

Everything else is ``LIFReset``: the same Vars, ports and per-window state reset.

Example:
    >>> LIFResetBounded(shape=(4,), vth=64, v_min=-64, reset_interval=8)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from lava.magma.core.process.variable import Var
from lava.proc.lif.process import LIFReset


class LIFResetBounded(LIFReset):
    """``LIFReset`` whose voltage never goes below ``v_min`` (see the module docstring).

    Args:
        v_min: the lower bound of ``v`` (<= 0).
        **kwargs: ``LIFReset``'s arguments.
    """

    def __init__(self, *, v_min: float, **kwargs: Any) -> None:
        if v_min > 0:
            raise ValueError(f"v_min={v_min} must be <= 0: a spike resets v to 0")
        super().__init__(**kwargs)
        self.v_min = Var(shape=(1,), init=v_min)
