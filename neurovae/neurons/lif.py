r"""Loihi-exact leaky integrate-and-fire neurons built on snnTorch.

The discrete-time update that every spiking layer of neurovae trains with is, per neuron,

.. math::

    v_t = \beta \, v_{t-1} (1 - s_{t-1}) + I_t, \qquad s_t = [v_t > \vartheta]

which is snnTorch's ``Leaky(beta, threshold, reset_mechanism="zero")`` (the reset of step ``t-1`` is
applied to the decayed voltage before the input of step ``t`` is added), the ESVAE/FSVAE reference
``LIFSpike`` and, exactly, Lava's CUBA LIF process with no current memory. The mapping onto Lava /
netx (device units are training units times a per-layer ``weight_scale``, 64 in lava-dl)::

    Lava LIF (float)   du = 1            dv = 1 - beta          vth = threshold * weight_scale
    netx CUBA          iDecay = 4096     vDecay = 4096 (1-beta)  vThMant = threshold * weight_scale

Lava has no subtractive reset and no current memory is needed by the papers' models, so zero reset
with ``du = 1`` is the exportable choice.

An optional lower bound ``v_min <= 0`` (Hübotter et al. 2021, eq. 4: ``u' = max(u, -omega)``) clamps the
voltage after each step: ``v_t <- max(v_t, v_min)``. Clamping the stored pre-reset voltage equals the
paper's clamp of the post-reset one, because a neuron below ``v_min`` never spikes and a reset lands on
0 >= v_min. Exported as netx ``vMinMant = v_min * weight_scale`` (a neurovae field; see
:mod:`neurovae.netx.neuron`). The one-step delay that each Lava synapse adds is modelled
by :mod:`neurovae.neurons.blocks`, not here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import snntorch as snn
import torch
from torch import nn

DECAY_SCALE = 4096  # Loihi decays are 12-bit fractions of 4096


@dataclass(frozen=True)
class LIFParams:
    """Parameters of one LIF population, in training units.

    Args:
        beta: voltage decay multiplier per step (ESVAE's ``tau`` = 0.25), in [0, 1].
        threshold: firing threshold; ``math.inf`` makes a non-spiking leaky integrator (readout).
        surrogate_width: width ``a`` of the rectangular surrogate gradient
            ``ds/dv = [|v - threshold| < a/2] / a`` (Wu et al. 2019, used by ESVAE with a = 0.5).
        v_min: lower bound of the voltage, <= 0 (``-inf``: unbounded, Lava's LIF).
    """

    beta: float
    threshold: float
    surrogate_width: float = 0.5
    v_min: float = -math.inf

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"LIF beta must be in [0, 1] (a decay multiplier), got {self.beta}")
        if not self.threshold > 0:
            raise ValueError(f"LIF threshold must be positive, got {self.threshold}")
        if not self.surrogate_width > 0:
            raise ValueError(f"surrogate width must be positive, got {self.surrogate_width}")
        if not self.v_min <= 0:
            raise ValueError(f"LIF v_min must be <= 0 (a reset to 0 must respect it), got {self.v_min}")

    @property
    def bounded(self) -> bool:
        """Whether the voltage has a lower bound."""
        return math.isfinite(self.v_min)

    @property
    def spiking(self) -> bool:
        """False for a readout integrator that never fires."""
        return math.isfinite(self.threshold)

    def to_cuba(self, weight_scale: float) -> dict[str, float]:
        """Netx CUBA neuron parameters (device units) for this population; ``vMinMant`` only when bounded."""
        cuba = {
            "iDecay": DECAY_SCALE,
            "vDecay": DECAY_SCALE * (1.0 - self.beta),
            "vThMant": self.threshold * weight_scale if self.spiking else math.inf,
        }
        if self.bounded:
            cuba["vMinMant"] = self.v_min * weight_scale
        return cuba

    @classmethod
    def from_cuba(cls, cuba: dict[str, float], weight_scale: float) -> LIFParams:
        """Inverse of :meth:`to_cuba`; only ``iDecay = 4096`` (no current memory) maps back."""
        if cuba["iDecay"] != DECAY_SCALE:
            raise ValueError(f"iDecay {cuba['iDecay']} has current memory; neurovae's LIF needs 4096")
        threshold = cuba["vThMant"] / weight_scale
        v_min = cuba["vMinMant"] / weight_scale if cuba.get("vMinMant") is not None else -math.inf
        return cls(beta=1.0 - cuba["vDecay"] / DECAY_SCALE, threshold=threshold, v_min=v_min)


def exact(value: float) -> torch.Tensor:
    """A float64 scalar for snnTorch's buffers: a float64 model (and Lava) sees 0.2, not float32's 0.2000000030.

    A 0-dim tensor does not change the dtype of the float32 tensors it meets, so float32 training is unchanged.
    """
    return torch.tensor(value, dtype=torch.float64)


def rectangular_surrogate(width: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """SnnTorch spike function whose gradient is a box of ``width`` around the threshold.

    Written with plain tensor operations: ``spike = H(x) + (g - g.detach())`` with ``g = x [|x| < w/2] / w``
    (the mask detached). The forward value is exactly ``H(x)``, since ``g - g.detach()`` is exactly 0, and the
    gradient is exactly the box ``[|x| < w/2] / w``. ``torch.compile`` traces it as ordinary operations and
    fuses it with the neuron update around it; an ``autograd.Function`` (snnTorch's ``custom_surrogate``) has its
    backward traced anew at every call, which made compiling the paper's ESVAE take over 12 minutes on 2 cores
    instead of about 3.

    Example:
        >>> v = torch.tensor([0.1, -0.3], requires_grad=True)
        >>> spikes = rectangular_surrogate(0.5)(v)
        >>> spikes.sum().backward()
        >>> spikes.tolist(), v.grad.tolist()
        ([1.0, 0.0], [2.0, 0.0])
    """

    def spike(shifted_v: torch.Tensor) -> torch.Tensor:
        slope = (shifted_v.detach().abs() < width / 2).to(shifted_v.dtype) / width
        linear = shifted_v * slope
        return (shifted_v > 0).to(shifted_v.dtype) + (linear - linear.detach())

    return spike


def forget_hidden_state(leaky: snn.Leaky) -> None:
    """Empty the voltage that snnTorch keeps in the neuron module after each call (its ``mem`` buffer).

    neurovae passes the state explicitly, so the stored copy is never read; left in place it would keep the last
    step's autograd graph alive, carry state from one call into the next, and change (shape, ``requires_grad``)
    between training and evaluation, which makes ``torch.compile`` recompile the model every time.
    """
    leaky.mem = leaky.mem.new_zeros(0).detach()


class LIF(nn.Module):
    """A population of LIF neurons run over a whole sequence ``[T, N, ...]`` of input currents.

    State is explicit: each call starts from zero voltage and returns spikes for every step.

    Example:
        >>> lif = LIF(LIFParams(beta=0.25, threshold=0.2))
        >>> lif(torch.full((4, 1, 3), 0.3))[:, 0, 0].tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, params: LIFParams) -> None:
        super().__init__()
        if not params.spiking:
            raise ValueError("LIF needs a finite threshold; use LeakyReadout for a non-spiking layer")
        self.params = params
        self.leaky = snn.Leaky(
            beta=exact(params.beta),
            threshold=exact(params.threshold),
            spike_grad=rectangular_surrogate(params.surrogate_width),
            reset_mechanism="zero",
        )

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, N, ...]`` for input currents ``[T, N, ...]``."""
        return self.trace(current, record_voltage=False)[0]

    def trace(self, current: torch.Tensor, record_voltage: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Spikes and (optionally) the voltage after every step, ``[T, N, ...]`` each.

        The voltage is the one Lava stores at the end of a step: zero where the neuron spiked (snnTorch applies
        the zero reset at the next step instead), so that counts of membrane updates agree across backends.
        """
        spikes, voltages, _ = self.run(current, torch.zeros_like(current[0]), record_voltage)
        return spikes, voltages

    def run(self, current: torch.Tensor, mem: torch.Tensor,
            record_voltage: bool = False) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Spikes (and, if asked, stored voltages) ``[T, N, ...]`` from the state ``mem``; also the final state."""
        spikes, voltages = [], []
        for step_current in current.unbind(0):
            spk, mem = self.step(step_current, mem)
            spikes.append(spk)
            if record_voltage:
                voltages.append(mem * (1 - spk))
        return torch.stack(spikes), torch.stack(voltages) if record_voltage else None, mem

    def window(self, prefix: torch.Tensor, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes for a current whose first steps are the same for every sample.

        ``prefix`` ``[k, 1, ...]`` runs once and its final state is broadcast to the steps ``data``
        ``[T, N, ...]`` that follow it; returns the spikes of both.
        """
        prefix_spikes, _, mem = self.run(prefix, torch.zeros_like(prefix[0]))
        data_spikes, _, _ = self.run(data, mem.expand_as(data[0]))
        return prefix_spikes, data_spikes

    def step(self, current: torch.Tensor, mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: spikes and the new (pre-reset) voltage for the current ``[N, ...]`` and last voltage ``mem``.

        For networks stepped one step at a time (autoregressive sampling); start with ``mem`` = zeros.
        """
        spk, mem = self.leaky(current, mem)
        forget_hidden_state(self.leaky)
        if self.params.bounded:
            mem = mem.clamp_min(self.params.v_min)
        return spk.to(current.dtype), mem  # snnTorch spike functions return float32

    def extra_repr(self) -> str:
        """Shown by print(module)."""
        bound = f", v_min={self.params.v_min}" if self.params.bounded else ""
        return f"beta={self.params.beta}, threshold={self.params.threshold}{bound}"


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator whose voltage at the last step is the output.

    ``v_t = beta v_{t-1} + I_t``; returns ``v_{T-1} = sum_t beta^(T-1-t) I_t`` (ESVAE's
    ``MembraneOutputLayer`` with beta = 0.8). On Lava it is a LIF that never reaches its threshold.
    """

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.params = LIFParams(beta=beta, threshold=math.inf)
        self.leaky = snn.Leaky(beta=exact(beta), reset_mechanism="none")

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        """Voltage ``[N, ...]`` after the last of the ``T`` input currents ``[T, N, ...]``."""
        return self.reduce(self.trace(current))

    def reduce(self, voltages: torch.Tensor) -> torch.Tensor:
        """The output read from a voltage trace ``[T, N, ...]`` (here its last step), wherever it was computed."""
        return voltages[-1]

    def trace(self, current: torch.Tensor) -> torch.Tensor:
        """Voltage after every step, ``[T, N, ...]``."""
        return self.run(current, torch.zeros_like(current[0]))

    def run(self, current: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
        """Voltage after every step ``[T, N, ...]``, starting from the voltage ``mem``."""
        voltages = []
        for step_current in current.unbind(0):
            _, mem = self.leaky(step_current, mem)
            voltages.append(mem)
        forget_hidden_state(self.leaky)
        return torch.stack(voltages)

    def window(self, prefix: torch.Tensor, data: torch.Tensor) -> tuple[None, torch.Tensor]:
        """The output for a current whose first steps are the same for every sample (see :meth:`LIF.window`).

        Returns ``(None, output)``: a readout has no spikes to pass on.
        """
        prefix_voltages = self.run(prefix, torch.zeros_like(prefix[0]))
        data_voltages = self.run(data, prefix_voltages[-1].expand_as(data[0]))
        voltages = torch.cat([prefix_voltages.expand(-1, *data.shape[1:]), data_voltages])
        return None, self.reduce(voltages)

    def extra_repr(self) -> str:
        """Shown by print(module)."""
        return f"beta={self.params.beta}"


class PeakReadout(LeakyReadout):
    """Non-spiking leaky integrator whose output is its largest voltage over the steps, ``[N, ...]``.

    ``U_t = beta U_{t-1} + I_t``, output ``max_t U_t``: the SAE's decoding by the maximum cumulative membrane
    potential (Hübotter et al. 2021, eqs. 7-8). On Lava it is the same never-firing LIF as
    :class:`LeakyReadout`, whose voltage the host reads at every step.
    """

    def reduce(self, voltages: torch.Tensor) -> torch.Tensor:
        """``max_t U_t`` ``[N, ...]`` of a voltage trace ``[T, N, ...]``."""
        return voltages.amax(0)
