"""Synapse ops per netx layer type, in a registry: ``SYNAPSES[layer.type](layer, spec) -> Synapse``.

A :class:`Synapse` maps a batch of inputs ``[M, *in_shape]`` (M = samples x steps) to the synaptic input of
the layer's neurons ``[M, *out_shape]``, as Lava's connection process computes it from one step's input:

========  ==========================  ======================================================================
type      float (``floating_pt``)     fixed (``fixed_pt``, integers)
========  ==========================  ======================================================================
dense     ``x @ W.T`` (float64)       netx weight packing + Lava's clip/truncation, ``x @ W.T``, int32 dot
                                      for graded input, ``* 2**weight_exp`` (floor), int32 channel
conv      ``F.conv2d`` (float64)      ``F.conv2d`` on integers, int32, ``* 2**weight_exp`` (floor), 24-bit wrap
convT     ``F.conv_transpose2d``      ``F.conv_transpose2d`` on integers, ``* 2**weight_exp``, 24-bit wrap
========  ==========================  ======================================================================

Fixed point accumulates in floating point only where that is exact: every partial sum of integers is an
integer no larger than ``sum |w| * max |x|``, exact in float32 below ``2**24`` and in float64 below ``2**53``
(the compiler picks the narrowest exact type; the result is then rounded, which also absorbs any last-bit
error of a non-direct convolution algorithm). ``flatten`` has no synapse: it is a reshape (CHW, C order).

Example:
    >>> spec = SynapseSpec(in_shape=(4,), out_shape=(2,), precision="float")
    >>> syn = SYNAPSES["dense"](DenseLayer(np.ones((2, 4)), CubaNeuron()), spec)
    >>> syn(torch.ones(3, 4, dtype=torch.float64)).tolist()
    [[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neurovae.netx import ConvLayer, ConvTLayer, CubaNeuron, DenseLayer, Layer  # noqa: F401 - doctest names
from neurovae.simulate.emulator import fixedpoint as fx

FLOAT32_EXACT = 2**24
"""Integers up to this size (and every partial sum below it) are exact in float32."""
FLOAT64_EXACT = 2**53
"""... and in float64."""


@dataclass(frozen=True)
class SynapseSpec:
    """What a synapse op needs to know besides its layer record.

    Attributes:
        in_shape: CHW input shape.
        out_shape: CHW output shape.
        precision: ``float`` or ``fixed``.
        graded: whether the input is graded (direct input; Lava's ``num_message_bits = 24``) or 0/1 spikes.
        weight_exp: fixed point: extra exponent on the sum (``-6`` for a graded first synapse).
        input_bound: an upper bound of ``|x|`` (1 for spikes).
        device: where the op runs.
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    precision: str
    graded: bool = False
    weight_exp: int = 0
    input_bound: float = 1.0
    device: str | torch.device = "cpu"

    def __post_init__(self) -> None:
        if self.precision not in ("float", "fixed"):
            raise ValueError(f"precision={self.precision!r} must be 'float' or 'fixed'")


@dataclass(frozen=True)
class Synapse:
    """A compiled synapse op.

    Attributes:
        apply: ``[M, *in_shape]`` (compute dtype) -> ``[M, *out_shape]``: float64 (float); fixed point: exact
            integers in the compute dtype, or int64 where Lava's wraps can happen.
        dtype: the dtype ``apply`` wants its input in.
        bound: an upper bound of ``|output|`` (infinite when unknown).
    """

    apply: Callable[[torch.Tensor], torch.Tensor]
    dtype: torch.dtype
    bound: float

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run the op on ``x`` (cast to :attr:`dtype`)."""
        return self.apply(x.to(self.dtype))


def _tensor(array: np.ndarray, dtype: torch.dtype, device: str | torch.device) -> torch.Tensor:
    """A torch copy of a (read-only) record array."""
    return torch.tensor(np.asarray(array), dtype=dtype, device=device)


SynapseBuilder = Callable[[Layer, SynapseSpec], Synapse]
SYNAPSES: dict[str, SynapseBuilder] = {}
"""Registry: netx layer ``type`` -> builder of its synapse op."""


def register_synapse(kind: str) -> Callable[[SynapseBuilder], SynapseBuilder]:
    """Decorator adding a builder to :data:`SYNAPSES` under the netx ``type`` ``kind``."""

    def add(builder: SynapseBuilder) -> SynapseBuilder:
        SYNAPSES[kind] = builder
        return builder

    return add


def exact_dtype(bound: float, device: str | torch.device) -> torch.dtype:
    """The narrowest float dtype in which sums bounded by ``bound`` are exact (float32 on CPU only).

    Raises:
        ValueError: when even float64 cannot hold the sums exactly.
    """
    if bound < FLOAT32_EXACT and torch.device(device).type == "cpu":
        return torch.float32  # CUDA: cuDNN may pick TF32 or Winograd for float32; stay in float64
    if bound < FLOAT64_EXACT:
        return torch.float64
    raise ValueError(f"synaptic sums may reach {bound:.3g}, beyond exact float64 integers (2**53); "
                     "use smaller weights or inputs")


@dataclass(frozen=True)
class _IntegerFinish:
    """How exact sums become Lava's integers: which wraps can happen, and the bound of the result."""

    weight_exp: int
    bits: int
    wrap_first: bool
    cast_first: bool
    wrap_last: bool
    bound: float
    in_float: bool

    @classmethod
    def plan(cls, bound: float, weight_exp: int, bits: int, first: str | None, dtype: torch.dtype) -> _IntegerFinish:
        """The steps that ``|sum| <= bound`` cannot rule out.

        Before the shift, the int32 step ``first``: ``'wrap'`` (an int32 dot product) or ``'cast'`` (numpy's
        float64 -> int32 cast, which gives -2**31 out of range); after it, a wrap to ``bits``. Without any of
        them the shift is done in the float ``dtype`` of the sums (exact: a power-of-two scaling and a floor).
        """
        risky = first is not None and bound >= 2**31
        bound = min(bound, 2.0**31) if first is not None else bound
        bound = bound * 2.0**weight_exp
        wrap_last = bound >= 2 ** (bits - 1)
        exact = FLOAT32_EXACT if dtype == torch.float32 else FLOAT64_EXACT
        in_float = not (risky or wrap_last) and bound < exact
        return cls(weight_exp, bits, risky and first == "wrap", risky and first == "cast", wrap_last,
                   min(bound, 2.0 ** (bits - 1)), in_float)

    def __call__(self, total: torch.Tensor) -> torch.Tensor:
        """Exact float sums -> [int32 wrap or cast], ``2**weight_exp`` (floor), [wrap to ``bits``].

        Returns exact integers in the sums' float dtype when no wrap can happen, else int64.
        """
        out = torch.round(total)  # a no-op on exact sums; absorbs a last-bit error of a non-direct algorithm
        if self.in_float:
            if self.weight_exp < 0:
                return torch.floor(out * 2.0**self.weight_exp)
            return out * 2.0**self.weight_exp if self.weight_exp else out
        out = out.to(torch.int64)
        if self.wrap_first:
            out = fx.wrap(out, 32)
        if self.cast_first:
            out = torch.where((out >= 2**31) | (out < -(2**31)), -(2**31), out)
        out = fx.shift(out, self.weight_exp)
        return fx.wrap(out, self.bits) if self.wrap_last else out


def _fixed_synapse(weight: torch.Tensor, linear: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   row_bound: float, spec: SynapseSpec, weight_exp: int, bits: int, first: str | None) -> Synapse:
    """A fixed-point synapse around the exact integer linear map ``linear(x, weight)``."""
    bound = row_bound * spec.input_bound
    dtype = exact_dtype(bound, spec.device)
    weight = weight.to(dtype)
    finish = _IntegerFinish.plan(bound, weight_exp, bits, first, dtype)
    return Synapse(apply=lambda x: finish(linear(x, weight)), dtype=dtype, bound=finish.bound)


@register_synapse("dense")
def dense_synapse(layer: DenseLayer, spec: SynapseSpec) -> Synapse:
    """``dense``: Lava ``Dense`` (float: ``PyDenseModelFloat``; fixed: ``PyDenseModelBitAcc``)."""
    out_shape = tuple(spec.out_shape)

    def linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.linear(x.reshape(x.shape[0], -1), weight)

    if spec.precision == "float":
        weight = _tensor(layer.weight, torch.float64, spec.device)
        return Synapse(apply=lambda x: linear(x, weight).reshape(-1, *out_shape), dtype=torch.float64,
                       bound=float("inf"))
    packed = fx.pack_dense_weights(layer.weight, spec.weight_exp)
    row_bound = float(np.abs(packed.weight).sum(axis=1).max()) if packed.weight.size else 0.0
    weight = _tensor(packed.weight, torch.float64, spec.device)
    # binary input: numpy sums int32 columns in int64 (no wrap); graded: an int32 dot product wraps first.
    # Either way the result is stored into Lava's int32 channel.
    synapse = _fixed_synapse(weight, linear, row_bound, spec, packed.weight_exp, 32,
                             first="wrap" if spec.graded else None)
    return Synapse(apply=lambda x: synapse.apply(x).reshape(-1, *out_shape), dtype=synapse.dtype,
                   bound=synapse.bound)


def _conv_row_bound(weight: np.ndarray, out_axis: int) -> float:
    """Max over output channels of the sum of ``|w|`` feeding it (an upper bound of one output's sum)."""
    if not weight.size:
        return 0.0
    axes = tuple(i for i in range(weight.ndim) if i != out_axis)
    return float(np.abs(np.trunc(weight)).sum(axis=axes).max())


@register_synapse("conv")
def conv_synapse(layer: ConvLayer, spec: SynapseSpec) -> Synapse:
    """``conv``: Lava ``Conv`` (torch's conv2d, cross-correlation); fixed: int32, ``2**weight_exp``, 24 bits."""

    def linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)

    if spec.precision == "float":
        weight = _tensor(layer.weight, torch.float64, spec.device)
        return Synapse(apply=lambda x: linear(x, weight), dtype=torch.float64, bound=float("inf"))
    weight = _tensor(np.trunc(layer.weight), torch.float64, spec.device)
    # Lava sums in float64 (scipy) and casts to the int32 weight dtype before shifting
    return _fixed_synapse(weight, linear, _conv_row_bound(layer.weight, 0), spec, spec.weight_exp, fx.UV_BITS,
                          first="cast")


@register_synapse("convT")
def conv_transpose_synapse(layer: ConvTLayer, spec: SynapseSpec) -> Synapse:
    """``convT``: neurovae's ConvT process (``conv_transpose2d``); fixed: exact int64 sum, 24-bit wrap."""
    output_padding = layer.output_padding(tuple(spec.in_shape))

    def linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, weight, None, layer.stride, layer.padding, output_padding, layer.groups,
                                  layer.dilation)

    if spec.precision == "float":
        weight = _tensor(layer.weight, torch.float64, spec.device)
        return Synapse(apply=lambda x: linear(x, weight), dtype=torch.float64, bound=float("inf"))
    weight = _tensor(np.trunc(layer.weight), torch.float64, spec.device)
    return _fixed_synapse(weight, linear, _conv_row_bound(layer.weight, 1), spec, spec.weight_exp, fx.UV_BITS,
                          first=None)
