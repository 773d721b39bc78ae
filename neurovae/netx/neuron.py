r"""The CUBA neuron record of a netx layer (the ``neuron`` group SLAYER's ``export_hdf5`` writes).

Device parameters are on Loihi's scales: decays on 4096 (``iDecay = 4096`` means no current memory,
``vDecay = 4096 * dv``), threshold and state in the same units as weights and biases. Lava runs the record as
``LIF(du=iDecay - 1, dv=vDecay, vth=vThMant, bias_exp=6)`` in fixed point (lava-dl netx's mapping) and as
``LIF(du=iDecay/4096, dv=vDecay/4096, vth=vThMant)`` in floating point, i.e. every step

.. math::
    u[t] = (1 - iDecay/4096)\,u[t-1] + a[t], \quad v[t] = (1 - vDecay/4096)\,v[t-1] + u[t] + b,
    \quad s[t] = v[t] > vThMant, \quad v[t] \leftarrow 0 \text{ where } s[t].

``vMinMant`` (neurovae's addition, optional) bounds the voltage from below after each step,
``v[t] <- max(v[t], vMinMant)`` (Hübotter et al. 2021's ``-omega``), run by neurovae's ``LIFResetBounded``
Lava process. It is written only when set, as ``neuron/vMinMant``; lava-dl's netx reads only the keys it knows,
so a file with it still loads there (without the bound) and files without it read here as unbounded.

Example:
    >>> CubaNeuron(iDecay=4096, vDecay=819.2, vThMant=64).type
    'CUBA'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurovae.netx.errors import NetxError

DECAY_SCALE = 4096
"""Decays are stored as integers (or reals, in float networks) on this scale: 4096 = full decay."""

NEURON_KEYS = ("type", "iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike")
"""Dataset names under ``layer/<i>/neuron/`` in SLAYER's order."""


def _scalar(value: Any, name: str) -> float:
    """Return ``value`` as a finite Python float or raise a one-line :class:`NetxError`."""
    try:
        number = float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        raise NetxError(f"neuron parameter {name} must be one number, got {value!r}") from None
    if not math.isfinite(number):
        raise NetxError(f"neuron parameter {name} is {number}; it must be a finite number")
    return number


@dataclass(frozen=True)
class CubaNeuron:
    """Loihi CUBA LIF neuron parameters, named exactly as in the netx file.

    Attributes:
        iDecay: current decay on the 4096 scale, 0..4096 (4096: the current is just this step's input).
        vDecay: voltage decay on the 4096 scale, 0..4096 (0: no leak; ``dv = vDecay / 4096``).
        vThMant: spike threshold (> 0), in the same units as weights and biases.
        refDelay: refractory delay in steps (>= 1); Lava's LIF has no refractory period, 1 means none.
        gradedSpike: whether the neuron sends graded spikes (neurovae simulates binary spikes only).
        vMinMant: lower bound of the voltage (<= 0, same units as vThMant), or None for none.
    """

    iDecay: float = float(DECAY_SCALE)
    vDecay: float = 0.0
    vThMant: float = 64.0
    refDelay: int = 1
    gradedSpike: bool = False
    vMinMant: float | None = None
    type: ClassVar[str] = "CUBA"

    def __post_init__(self) -> None:
        for name in ("iDecay", "vDecay"):
            value = _scalar(getattr(self, name), name)
            if not 0 <= value <= DECAY_SCALE:
                raise NetxError(f"neuron parameter {name}={value:g} is outside 0..{DECAY_SCALE} (a 4096 scale)")
            object.__setattr__(self, name, value)
        threshold = _scalar(self.vThMant, "vThMant")
        if threshold <= 0:
            raise NetxError(f"neuron parameter vThMant={threshold:g} must be positive")
        object.__setattr__(self, "vThMant", threshold)
        ref_delay = _scalar(self.refDelay, "refDelay")
        if ref_delay < 1 or ref_delay != int(ref_delay):
            raise NetxError(f"neuron parameter refDelay={ref_delay:g} must be a whole number >= 1")
        object.__setattr__(self, "refDelay", int(ref_delay))
        object.__setattr__(self, "gradedSpike", bool(np.asarray(self.gradedSpike).reshape(())))
        if self.vMinMant is not None:
            bound = _scalar(self.vMinMant, "vMinMant")
            if bound > 0:
                raise NetxError(f"neuron parameter vMinMant={bound:g} must be <= 0 (a reset to 0 must respect it)")
            object.__setattr__(self, "vMinMant", bound)

    @property
    def is_integer(self) -> bool:
        """Whether every parameter is a whole number, as fixed point (and stock netx) requires."""
        bound_is_integer = self.vMinMant is None or float(self.vMinMant).is_integer()
        return bound_is_integer and all(float(getattr(self, k)).is_integer() for k in ("iDecay", "vDecay", "vThMant"))

    def datasets(self, prefix: str = "neuron/") -> dict[str, Any]:
        """Datasets of the ``neuron`` group, keyed by their path inside the layer group.

        Whole-number parameters are written as integers (as SLAYER does); others as float64.
        """

        def number(value: float) -> int | float:
            return int(value) if float(value).is_integer() else float(value)

        datasets = {
            f"{prefix}type": self.type,
            f"{prefix}iDecay": number(self.iDecay),
            f"{prefix}vDecay": number(self.vDecay),
            f"{prefix}vThMant": number(self.vThMant),
            f"{prefix}refDelay": int(self.refDelay),
            f"{prefix}gradedSpike": bool(self.gradedSpike),
        }
        if self.vMinMant is not None:
            datasets[f"{prefix}vMinMant"] = number(self.vMinMant)
        return datasets

    @classmethod
    def from_datasets(cls, data: Mapping[str, Any], prefix: str = "neuron/") -> CubaNeuron:
        """Build the record from a layer's datasets (``neuron/type``, ``neuron/iDecay``, ...)."""
        kind = data.get(f"{prefix}type")
        if kind is None:
            raise NetxError("has no 'neuron/type' dataset; a spiking layer needs a CUBA neuron group")
        if isinstance(kind, bytes):
            kind = kind.decode("ascii", "replace")
        if str(kind) not in ("CUBA", "LOIHI"):
            raise NetxError(f"has neuron type {str(kind)!r}; neurovae supports CUBA (LOIHI) neurons only")
        missing = [k for k in ("iDecay", "vDecay", "vThMant") if f"{prefix}{k}" not in data]
        if missing:
            raise NetxError(f"neuron group lacks {', '.join(missing)}; re-export the layer")
        return cls(
            iDecay=data[f"{prefix}iDecay"],
            vDecay=data[f"{prefix}vDecay"],
            vThMant=data[f"{prefix}vThMant"],
            refDelay=data.get(f"{prefix}refDelay", 1),
            gradedSpike=data.get(f"{prefix}gradedSpike", False),
            vMinMant=data.get(f"{prefix}vMinMant"),
        )
