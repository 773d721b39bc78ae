"""lava-dl netx's reset schedule: each layer's neurons are zeroed every ``interval`` steps (no Lava import here).

Layer k is zeroed one step after layer k - 1.
``netx.hdf5.Network(reset_interval=R, reset_offset=K)`` gives the k-th layer with neurons (an Input block with
neurons counts, a flatten or shape-only input layer does not) Lava's ``LIFReset`` with
``reset_offset = K + 1 + k``: its current and voltage are zeroed at the start of every Lava time step ``t``
(counted from 1) with ``t % R == (K + 1 + k) % R``. Synapses are never reset: a spike sent at step t arrives at
step t + 1 whatever the schedule. So a sample presented at steps ``nR + 1 .. nR + R`` reaches layer k in the
window that starts k steps later, which that layer's reset separates from the sample before.

Example:
    >>> schedule = ResetSchedule(interval=8, offset=0)
    >>> [t for t in range(16) if schedule.resets(0, t)]   # 0-based steps at which the first layer is zeroed
    [0, 8]
"""

from __future__ import annotations

from dataclasses import dataclass

from neurovae.simulate.result import SimulationError


@dataclass(frozen=True)
class ResetSchedule:
    """A netx reset schedule.

    Attributes:
        interval: steps between two resets of a layer (``reset_interval``).
        offset: the phase of the first layer's reset (``reset_offset``; any whole number, taken modulo interval).
    """

    interval: int
    offset: int = 0

    def __post_init__(self) -> None:
        for name, minimum in (("interval", 1), ("offset", None)):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or (minimum is not None and value < minimum):
                wanted = "a positive whole number of steps" if minimum else "a whole number of steps"
                raise SimulationError(f"reset {name}={value!r} must be {wanted}")
            object.__setattr__(self, name, int(value))

    def phase(self, layer: int) -> int:
        """The Lava time step (modulo ``interval``) at which the ``layer``-th layer with neurons is zeroed."""
        return (self.offset + 1 + layer) % self.interval

    def resets(self, layer: int, step: int) -> bool:
        """Whether the ``layer``-th layer with neurons is zeroed before the 0-based ``step`` of the run."""
        return (step + 1) % self.interval == self.phase(layer)
