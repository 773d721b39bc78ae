"""ProcessModels for Lava's own ``Dense`` and ``Conv`` that forget the previous sample at every window start.

Lava's connection models hold their output for one step (``a_buff`` / ``a_buf``): what arrives at step t is
delivered at step t+1. Running many samples back to back through one network therefore leaks the previous
sample's last spikes into the next sample's first step. These models, selected through
``Loihi2SimCfg(exception_proc_model_map=...)``, zero that held output at steps 1, T+1, 2T+1, ...
(``proc_params['reset_interval'] = T``, set by the graph builder), and are otherwise Lava's models unchanged.
Together with ``LIFReset(reset_interval=T, reset_offset=1)``, which zeroes ``u`` and ``v`` at the same steps,
each window of T steps computes exactly what a freshly built network computes.

The fixed-point ``Conv`` model additionally applies ``weight_exp`` (``2**weight_exp``, arithmetic shift), as
Lava's fixed-point ``Dense`` does; stock netx always leaves it 0, so stock ``conv`` layers are unchanged.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.models import PyConvModelFixed, PyConvModelFloat
from lava.proc.conv.process import Conv
from lava.proc.dense.models import PyDenseModelBitAcc, PyDenseModelFloat
from lava.proc.dense.process import Dense


class _WindowReset:
    """Mixin: zero the held synaptic output at the first step of every reset window."""

    buffer_name = "a_buff"

    def run_spk(self) -> None:
        """Zero the held output at steps 1, T+1, ... then run the parent model's step."""
        interval = self.proc_params.get("reset_interval", 0)
        if interval and (self.time_step - 1) % interval == 0:
            setattr(self, self.buffer_name, np.zeros_like(getattr(self, self.buffer_name)))
        super().run_spk()


@implements(proc=Dense, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class WindowDenseFloat(_WindowReset, PyDenseModelFloat):
    """Lava's float ``Dense`` with a per-window reset of its held output."""


@implements(proc=Dense, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class WindowDenseFixed(_WindowReset, PyDenseModelBitAcc):
    """Lava's bit-accurate ``Dense`` with a per-window reset of its held output."""


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class WindowConvFloat(_WindowReset, PyConvModelFloat):
    """Lava's float ``Conv`` with a per-window reset of its held output."""

    buffer_name = "a_buf"


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class WindowConvFixed(_WindowReset, PyConvModelFixed):
    """Lava's fixed-point ``Conv`` with a per-window reset and ``weight_exp`` scaling."""

    buffer_name = "a_buf"

    def clamp_precision(self, x: np.ndarray) -> np.ndarray:
        """Scale by ``2**weight_exp`` (arithmetic shift), then wrap to 24 signed bits like Lava's model."""
        exp = int(np.asarray(self.weight_exp).reshape(-1)[0])
        if exp:
            x = np.left_shift(x, exp) if exp > 0 else np.right_shift(x, -exp)
        return super().clamp_precision(x)
