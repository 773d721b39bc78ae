r"""Loihi CUBA LIF steps as pure functions over torch tensors: ``step(a, state, params) -> (spikes, state)``.

Both are Lava's ``LIFReset`` ProcessModels (lava-nc 0.10.0) line for line, over a batch of samples at once.

Float (``PyLifResetModelFloat``), with ``du = iDecay/4096``, ``dv = vDecay/4096``, ``b`` the bias:

.. math::
    u \leftarrow u (1 - du) + a, \quad v \leftarrow v (1 - dv) + u + b, \quad s = v > v_{th}, \quad
    v \leftarrow 0 \text{ where } s.

Fixed point (``PyLifResetModelBitAcc``), on integers held shifted left by 6 bits:

.. math::
    u \leftarrow \mathrm{wrap_{24}}\big(\mathrm{trunc}(u (4096 - iDecay) / 4096) + (a \ll 6)\big), \quad
    v \leftarrow \mathrm{clip}\big(\mathrm{trunc}(v (4096 - vDecay) / 4096) + u + (b \ll 6), \pm(2^{23} - 1)\big),
    \quad s = v > (v_{th} \ll 6).

``trunc`` is Lava's sign-magnitude right shift; ``wrap_24`` its single 24-bit wrap
(:func:`~neurovae.simulate.emulator.fixedpoint.wrap_once`); ``b`` is the bias stored in Lava's ``int16`` ``bias_mant``.
A neuron with a lower bound (netx ``vMinMant``, neurovae's ``LIFResetBounded``) then sets
``v <- max(v, v_min)`` after the reset (``v_min << 6`` in fixed point).
The int32 wrap-arounds of Lava's numpy arithmetic are applied where the compiler cannot rule them out
(``wrap32``), the 24-bit wrap and the voltage clip where ``wrap24`` and ``clip`` say they may happen; skipping
them elsewhere changes no value (a test runs a network both ways).

Example:
    >>> params = FloatLIFParams.from_neuron(CubaNeuron(iDecay=4096, vDecay=2048, vThMant=1.0))
    >>> state = LIFState.zeros((2,), torch.float64)
    >>> spikes, state = float_step(torch.tensor([0.6, 1.5], dtype=torch.float64), state, params)
    >>> spikes.tolist(), state.v.tolist()
    ([False, True], [0.6, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurovae.netx import DECAY_SCALE, CubaNeuron
from neurovae.simulate.emulator import fixedpoint as fx


@dataclass(frozen=True)
class LIFState:
    """Current ``u`` and voltage ``v`` of a batch of neurons (fixed point: int64 holding Lava's int32 values)."""

    u: torch.Tensor
    v: torch.Tensor

    def __post_init__(self) -> None:
        if self.u.shape != self.v.shape:
            raise ValueError(f"u {tuple(self.u.shape)} and v {tuple(self.v.shape)} must have one shape")

    @classmethod
    def zeros(cls, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str = "cpu") -> LIFState:
        """The state at the first step of a sample (``LIFReset`` zeroes both)."""
        return cls(torch.zeros(shape, dtype=dtype, device=device), torch.zeros(shape, dtype=dtype, device=device))


def _bias_tensor(bias: np.ndarray | None, shape: tuple[int, ...], dtype: torch.dtype,
                 device: torch.device | str) -> torch.Tensor | None:
    """The bias broadcastable to a ``[batch, *shape]`` state.

    One value per neuron (a dense layer, even one viewed as CHW) or one per channel (the first CHW axis).
    """
    if bias is None:
        return None
    values = torch.tensor(np.array(bias), dtype=dtype, device=device)
    if values.numel() == int(np.prod(shape)):
        return values.reshape(shape)
    return values.reshape((-1,) + (1,) * (len(shape) - 1))


@dataclass(frozen=True)
class FloatLIFParams:
    """Float LIF parameters as Lava's float model uses them.

    Attributes:
        u_keep: ``1 - iDecay/4096`` (computed in float64, as Lava computes ``1 - du``).
        v_keep: ``1 - vDecay/4096``.
        vth: threshold ``vThMant``.
        bias: per-channel bias broadcastable to the state, or None (adding Lava's zero bias changes nothing).
        v_min: lower bound of the voltage (``vMinMant``), or None.
    """

    u_keep: float
    v_keep: float
    vth: float
    bias: torch.Tensor | None = None
    v_min: float | None = None

    def __post_init__(self) -> None:
        for name in ("u_keep", "v_keep"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)} must lie in [0, 1]; check the neuron's decays")

    @classmethod
    def from_neuron(cls, neuron: CubaNeuron, bias: np.ndarray | None = None, shape: tuple[int, ...] = (1,),
                    device: torch.device | str = "cpu") -> FloatLIFParams:
        """Map a netx neuron record as ``neurovae.simulate`` does for ``floating_pt``."""
        du, dv = neuron.iDecay / DECAY_SCALE, neuron.vDecay / DECAY_SCALE
        return cls(u_keep=1 - du, v_keep=1 - dv, vth=float(neuron.vThMant),
                   bias=_bias_tensor(bias, shape, torch.float64, device), v_min=neuron.vMinMant)


@dataclass(frozen=True)
class FixedLIFParams:
    """Fixed-point LIF parameters as Lava's bit-accurate model uses them (all in the 6-bit-shifted units).

    Attributes:
        u_factor: ``4096 - iDecay`` (Lava: ``4096 - (du + 1)`` with netx's ``du = iDecay - 1``).
        v_factor: ``4096 - vDecay``.
        vth: ``vThMant << 6``.
        bias: ``int16(bias) << 6`` (per neuron or per channel, in ``dtype``), or None.
        wrap32: apply the int32 wrap-arounds of Lava's arithmetic (input shift, current sum, voltage sum).
        wrap24: apply the current's 24-bit wrap.
        clip: apply the voltage's clip to ``(-2**23, 2**23)`` (False only where it cannot bind).
        dtype: the state's dtype: int64, or a float type in which every value and product of this layer is an
            exact integer (only without wraps): float32 when the decays are powers of two and the values stay
            below ``2**24``, else float64.
        v_min: lower bound of the voltage, ``vMinMant << 6``, or None.
    """

    u_factor: int
    v_factor: int
    vth: int
    bias: torch.Tensor | None = None
    wrap32: bool = True
    wrap24: bool = True
    clip: bool = True
    dtype: torch.dtype = torch.int64
    v_min: int | None = None

    def __post_init__(self) -> None:
        for name in ("u_factor", "v_factor"):
            value = getattr(self, name)
            if int(value) != value or not 0 <= value <= DECAY_SCALE:
                raise ValueError(f"{name}={value} must be a whole number in 0..{DECAY_SCALE}; quantize the decays")
        if self.dtype.is_floating_point and (self.wrap32 or self.wrap24):
            raise ValueError("wrap-arounds need integer state (dtype=torch.int64)")
        if self.bias is not None and self.bias.dtype != self.dtype:
            raise ValueError(f"bias has dtype {self.bias.dtype} but the state is {self.dtype}")

    @classmethod
    def from_neuron(cls, neuron: CubaNeuron, bias: np.ndarray | None = None, shape: tuple[int, ...] = (1,),
                    device: torch.device | str = "cpu", input_bound: float = float("inf")) -> FixedLIFParams:
        """Map a netx neuron record as ``neurovae.simulate`` does for ``fixed_pt``.

        Args:
            neuron: the layer's CUBA record (whole-number parameters).
            bias: the layer's bias (truncated, stored as int16 as Lava's ``bias_mant`` Var stores it).
            shape: the layer's CHW shape.
            device: where the bias tensor lives.
            input_bound: an upper bound of ``|a|`` for this layer's synaptic input; decides which wraps can
                happen and the state dtype (infinite: every wrap is applied, in int64).
        """
        if not neuron.is_integer:
            raise ValueError("fixed point needs whole-number neuron parameters; quantize the network first")
        effective = None if bias is None else bias_state(bias).numpy()
        u_factor, v_factor = DECAY_SCALE - int(neuron.iDecay), DECAY_SCALE - int(neuron.vDecay)
        dtype, wrap32, wrap24, clip = _plan_arithmetic(input_bound, u_factor, v_factor, effective)
        return cls(u_factor=u_factor, v_factor=v_factor, vth=int(neuron.vThMant) << fx.STATE_SHIFT,
                   bias=_bias_tensor(effective, shape, dtype, device), wrap32=wrap32, wrap24=wrap24, clip=clip,
                   dtype=dtype, v_min=None if neuron.vMinMant is None else int(neuron.vMinMant) << fx.STATE_SHIFT)


def bias_state(bias: np.ndarray) -> torch.Tensor:
    """A bias as Lava's fixed-point LIF adds it to the voltage (int64).

    Truncated, stored in the int16 ``bias_mant`` Var (wrapping), shifted left by ``bias_exp = 6``. The shifted
    value is at most ``2**21`` in magnitude, so Lava's int32 shift cannot overflow.
    """
    mant = np.trunc(np.asarray(bias, dtype=np.float64)).astype(np.int64)
    mant = ((mant + (1 << 15)) & 0xFFFF) - (1 << 15)
    return torch.from_numpy(mant << fx.STATE_SHIFT)


def _plan_arithmetic(input_bound: float, u_factor: int, v_factor: int,
                     bias: np.ndarray | None) -> tuple[torch.dtype, bool, bool, bool]:
    """``(dtype, wrap32, wrap24, clip)``: the wraps and clip that can change a value given ``|a| <= input_bound``.

    Without wraps every value is an integer below ``2**24 + 2**23`` and every decay product ``x f / 4096`` has
    at most 36 significant bits: exact in float64, and in float32 when ``f`` is a power of two (a pure scaling)
    and the sums stay below ``2**24``.
    """
    a6 = input_bound * (1 << fx.STATE_SHIFT)
    if u_factor == DECAY_SCALE:  # no current decay: u sums its inputs without bound
        u_bound = float("inf")
    else:  # |u| <= |u| f / 4096 + |a6| at every step, so |u| <= |a6| / (1 - f / 4096)
        u_bound = a6 * DECAY_SCALE / (DECAY_SCALE - u_factor)
    wrap24 = not u_bound < fx.MAX_UV
    u_stored = u_bound if not wrap24 else float(1 << 31)
    b = float(np.max(np.abs(bias))) if bias is not None and np.size(bias) else 0.0
    wrap32 = not (a6 + u_stored < 2**31 and fx.MAX_UV + u_stored + b < 2**31)
    # |v| <= |v| f / 4096 + |u| + |b| at every step: below the clip unless that bound reaches it
    clip = wrap24 or v_factor == DECAY_SCALE or (u_bound + b) * DECAY_SCALE / (DECAY_SCALE - v_factor) >= fx.MAX_UV - 1
    if wrap32 or wrap24:
        return torch.int64, wrap32, wrap24, clip
    scalings = all(f & (f - 1) == 0 for f in (u_factor, v_factor))  # 0 or a power of two
    if scalings and u_bound + b <= fx.MAX_UV and a6 < 2**24:
        return torch.float32, False, False, clip
    return torch.float64, False, False, clip


def float_step(a: torch.Tensor, state: LIFState, params: FloatLIFParams) -> tuple[torch.Tensor, LIFState]:
    """One float LIF step (Lava's floating-point ``LIFReset`` after its window reset): same operation order."""
    u = state.u * params.u_keep + a
    v = state.v * params.v_keep + u
    if params.bias is not None:
        v = v + params.bias
    spikes = v > params.vth
    return spikes, LIFState(u, _reset(v, spikes, params.v_min))


def fixed_step(a: torch.Tensor, state: LIFState, params: FixedLIFParams) -> tuple[torch.Tensor, LIFState]:
    """One bit-accurate LIF step (``a``: the synaptic input, Lava's int32 values, in ``params.dtype``).

    Integer state follows Lava's numpy code with its wraps; float state (only where no wrap can happen) computes
    the same integers exactly: ``trunc(x * f / 4096)`` is the sign-magnitude shift of ``x * f``.
    """
    if params.dtype.is_floating_point:
        return _fixed_step_exact_float(a, state, params)
    a6 = a << fx.STATE_SHIFT
    if params.u_factor:
        current = fx.decay(state.u, params.u_factor) + (fx.wrap(a6, 32) if params.wrap32 else a6)
    else:
        current = a6
    if params.wrap32:
        current = fx.wrap(current, 32)
    u = fx.wrap_once(current) if params.wrap24 else current
    v = u if not params.v_factor else fx.decay(state.v, params.v_factor) + u
    if params.bias is not None:
        v = v + params.bias
    if params.wrap32:
        v = fx.wrap(v, 32)
    if params.clip:
        v = v.clamp(-fx.MAX_UV + 1, fx.MAX_UV - 1)
    spikes = v > params.vth
    return spikes, LIFState(u, _reset(v, spikes, params.v_min))


def _fixed_step_exact_float(a: torch.Tensor, state: LIFState,
                            params: FixedLIFParams) -> tuple[torch.Tensor, LIFState]:
    """:func:`fixed_step` on float state holding exact integers (no wraps possible)."""
    u = a * float(1 << fx.STATE_SHIFT)
    if params.u_factor:
        u = _decay_exact(state.u, params.u_factor) + u
    v = u if not params.v_factor else _decay_exact(state.v, params.v_factor) + u
    if params.bias is not None:
        v = v + params.bias
    if params.clip:
        v = v.clamp(-fx.MAX_UV + 1, fx.MAX_UV - 1)
    spikes = v > params.vth
    return spikes, LIFState(u, _reset(v, spikes, params.v_min))


def _reset(v: torch.Tensor, spikes: torch.Tensor, v_min: float | None) -> torch.Tensor:
    """Zero the voltage where the neuron spiked (v > vth > 0 there: +0.0), then apply the lower bound if any."""
    v = v * ~spikes
    return v if v_min is None else v.clamp_min(v_min)


def _decay_exact(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``trunc(x * factor / 4096)`` on exact float integers (one division when ``factor`` is a power of two)."""
    if factor == DECAY_SCALE:
        return x
    if factor & (factor - 1) == 0:
        return torch.div(x, DECAY_SCALE // factor, rounding_mode="trunc")
    return torch.div(x * factor, DECAY_SCALE, rounding_mode="trunc")
