"""Floating- and fixed-point ProcessModels of :class:`~neurovae.simulate.bounded_lif.process.LIFResetBounded`.

Each is Lava's own ``LIFReset`` model with one more operation after the spike reset: ``v = max(v, v_min)``,
with ``v_min`` shifted left by 6 bits in fixed point (the 6 fractional bits of Lava's fixed-point state, as for
``vth``). The bound is applied after Lava's 24-bit clip of ``v``; a reset value of 0 is never below it.

Lava's ``@implements`` refuses a subclass of a model that already implements another Process; each model here
clears the inherited ``implements_process`` so that it can reuse Lava's ``LIFReset`` model rather than copy it.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import PyLifResetModelBitAcc, PyLifResetModelFloat

from neurovae.simulate.bounded_lif.process import LIFResetBounded

STATE_SHIFT = 6
"""Lava's fixed-point LIF holds v with 6 fractional bits (its ``vth_shift``)."""


@implements(proc=LIFResetBounded, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLifResetBoundedFloat(PyLifResetModelFloat):
    """Lava's float ``LIFReset`` model, then ``v = max(v, v_min)``."""

    implements_process = None  # set to LIFResetBounded by @implements (see the module docstring)
    v_min: np.ndarray = LavaPyType(np.ndarray, float)

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        """Zero the voltage where the neuron spiked, then apply the lower bound."""
        super().reset_voltage(spike_vector)
        np.maximum(self.v, self.v_min[0], out=self.v)


@implements(proc=LIFResetBounded, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLifResetBoundedFixed(PyLifResetModelBitAcc):
    """Lava's bit-accurate ``LIFReset`` model, then ``v = max(v, v_min << 6)``."""

    implements_process = None  # set to LIFResetBounded by @implements (see the module docstring)
    v_min: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        """Zero the voltage where the neuron spiked, then apply the lower bound."""
        super().reset_voltage(spike_vector)
        np.maximum(self.v, np.int32(self.v_min[0]) << STATE_SHIFT, out=self.v)
