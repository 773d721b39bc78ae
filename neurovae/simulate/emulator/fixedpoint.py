r"""Loihi / Lava fixed-point integer helpers, over torch tensors (exact integer arithmetic, no Lava import).

Each helper reproduces one line of Lava's fixed-point ProcessModels (lava-nc 0.10.0), whose numpy dtypes
decide where values wrap:

* :func:`wrap` - numpy's silent wrap-around of an ``int32`` / ``int16`` store (``(x + 2^{b-1}) mod 2^b - 2^{b-1}``),
  e.g. an ``int32`` dot product, or a Dense output written into the ``int32`` channel;
* :func:`signed_clamp` - ``lava.proc.conv.utils.signed_clamp`` (the same modular wrap, 24 bits for Conv);
* :func:`shift` - ``np.left_shift`` / ``np.right_shift`` by a signed exponent (right shift = floor);
* :func:`decay` - the LIF decay ``sign(x f) (|x f| >> 12)``, i.e. the product truncated toward zero;
* :func:`wrap_once` - the LIF current's *single* 24-bit wrap (``x - 2^24`` above ``2^23``, ``x + 2^24`` at or
  below ``-2^23``; not a modulo: a value beyond ``2^24`` stays out of range, as in Lava);
* :func:`pack_dense_weights` - what Lava's bit-accurate ``Dense`` does to the weights netx packs with
  :func:`neurovae.simulate.fixed.optimize_weight_bits`: clip to 8 bits (inhibitory: -256 becomes -255), then
  drop the low bits beyond ``num_weight_bits``, one more for mixed-sign matrices (with 8 weight bits,
  mixed-sign weights lose their lowest bit). Lava decides the sign mode again on the packed weights: a matrix
  whose largest weight is 0 is "mixed" for netx (9 bits) but inhibitory for Lava, whose truncation by
  ``8 - 9`` bits is then a negative numpy shift that zeroes every weight; the emulator does the same.

Example:
    >>> wrap(torch.tensor([2**31, -2**31 - 1]), 32).tolist()
    [-2147483648, 2147483647]
    >>> decay(torch.tensor([-5, 5]), 2048).tolist()   # -5 * 2048 / 4096 = -2.5 -> -2 (toward zero)
    [-2, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurovae.simulate.fixed import optimize_weight_bits

DECAY_SHIFT = 12
"""Decays are on a 4096 = 2**12 scale; the decayed state is shifted right by 12 bits."""
STATE_SHIFT = 6
"""Lava's fixed-point LIF holds u and v (and compares them with vth) shifted left by 6 bits."""
UV_BITS = 24
"""u and v are 24-bit signed registers."""
MAX_UV = 1 << (UV_BITS - 1)
"""2**23: the LIF wraps u around it and clips v to ``(-MAX_UV, MAX_UV)``."""
SIGN_MIXED, SIGN_EXCITATORY, SIGN_INHIBITORY = 1, 2, 3
"""Lava's ``SignMode`` values."""


def wrap(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement wrap of integer tensor ``x`` to ``bits`` signed bits (what a numpy ``intN`` store does)."""
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half  # the two's-complement residue, without a division


signed_clamp = wrap
"""``lava.proc.conv.utils.signed_clamp``: ``(x + 2^{b-1}) % 2^b - 2^{b-1}``, identical to :func:`wrap`."""


def shift(x: torch.Tensor, exp: int) -> torch.Tensor:
    """``x * 2**exp`` as Lava's ``np.left_shift`` (exp > 0) / ``np.right_shift`` (exp < 0, floor) compute it."""
    if exp > 0:
        return x << exp
    if exp < 0:
        return x >> -exp  # arithmetic shift on signed integers: floor(x / 2**-exp)
    return x


def decay(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``sign(x f) * (|x f| >> 12)``: ``x * f / 4096`` truncated toward zero (Lava's LIF decay, ``f = 4096 - d``)."""
    if factor == 0:
        return torch.zeros_like(x)
    if factor == 1 << DECAY_SHIFT:
        return x.clone()
    product = x * factor
    return torch.where(product < 0, -((-product) >> DECAY_SHIFT), product >> DECAY_SHIFT)


def wrap_once(x: torch.Tensor) -> torch.Tensor:
    """The LIF current's 24-bit overflow handling, line for line as Lava's ``subthr_dynamics``.

    ``w = x - 2^24 where x > 2^23``; then ``w = x + 2^24 where w <= -2^23``. ``+2^23`` is kept, ``-2^23`` becomes
    ``+2^23``, and values more than one period away stay out of range.
    """
    wrapped = torch.where(x > MAX_UV, x - 2 * MAX_UV, x)
    return torch.where(wrapped <= -MAX_UV, x + 2 * MAX_UV, wrapped)


def sign_mode(weight: np.ndarray) -> int:
    """``lava.utils.weightutils.determine_sign_mode``: excitatory if min >= 0, inhibitory if max <= 0, else mixed."""
    if np.min(weight) >= 0:
        return SIGN_EXCITATORY
    if np.max(weight) <= 0:
        return SIGN_INHIBITORY
    return SIGN_MIXED


def clip_weights(weight: np.ndarray, mode: int, num_bits: int = 8) -> np.ndarray:
    """``lava.utils.weightutils.clip_weights`` (no learning): clip to ``num_bits`` (sign bit extra when mixed)."""
    weight = weight.astype(np.int32)
    mixed, inhibitory = int(mode == SIGN_MIXED), mode == SIGN_INHIBITORY
    if inhibitory:
        weight = -weight
    weight = np.clip(weight, -(2**num_bits) * mixed, 2**num_bits - 1)
    return -weight if inhibitory else weight


def truncate_weights(weight: np.ndarray, mode: int, num_weight_bits: int, max_bits: int = 8) -> np.ndarray:
    """``lava.utils.weightutils.truncate_weights``: zero the ``max_bits - num_weight_bits (+1 if mixed)`` low bits."""
    weight = weight.astype(np.int32)
    inhibitory = mode == SIGN_INHIBITORY
    if inhibitory:
        weight = -weight
    drop = max_bits - num_weight_bits + int(mode == SIGN_MIXED)
    weight = (weight >> drop) << drop
    return -weight if inhibitory else weight


@dataclass(frozen=True)
class DenseWeights:
    """A fixed-point Dense synapse as Lava's bit-accurate model runs it.

    Attributes:
        weight: the effective integer weights ``(out, in)`` (int64), after netx's packing and Lava's clip and
            truncation.
        weight_exp: the sum is scaled by ``2**weight_exp`` (:func:`shift`).
    """

    weight: np.ndarray
    weight_exp: int


def pack_dense_weights(weight: np.ndarray, extra_exp: int = 0) -> DenseWeights:
    """The weights netx's ``optimize_weight_bits`` packs, after Lava's ``PyDenseModelBitAcc`` clips and truncates them.

    Args:
        weight: whole-number device weights ``(out, in)``.
        extra_exp: added to the weight exponent (``-6`` for the first synapse of a direct-input network).
    """
    packed, num_bits, exp, _ = optimize_weight_bits(np.trunc(weight).astype(np.int32))
    packed = packed.astype(np.int32)  # the int32 ``weights`` Var of Lava's Dense model
    mode = sign_mode(packed)
    effective = truncate_weights(clip_weights(packed, mode, 8), mode, num_bits)
    return DenseWeights(weight=effective.astype(np.int64), weight_exp=int(exp) + int(extra_exp))
