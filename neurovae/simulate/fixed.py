"""Fixed-point weight packing as lava-dl's netx does it (no Lava import; importing netx costs ~6 s of torch).

:func:`optimize_weight_bits` reproduces ``lava.lib.dl.netx.utils.optimize_weight_bits`` (lava-dl 0.6.0) so
that neurovae's fixed-point ``dense`` layers get exactly the weights, weight bits and exponent stock netx
gives them; a parity test checks the two agree. In short: the integer weights are shifted left as far as
8-bit signed (or 8-bit unsigned for one-signed matrices) synapses allow, ``weight_exp`` undoes the shift,
and ``num_weight_bits`` keeps only the bits the weights use (with mixed signs Lava's ``Dense`` then drops
the lowest bit, as on Loihi).

Example:
    >>> optimize_weight_bits(np.array([[1, -2], [3, 4]]))[1:3]
    (6, -4)
"""

from __future__ import annotations

import numpy as np

GRADED_EXP = 6
"""Fixed point direct (graded) input: x is sent as ``round(x * 2**GRADED_EXP)`` and the first synapse scales its sum
by ``2**-GRADED_EXP``; the same in Lava (:mod:`neurovae.simulate.graph`) and in the emulator."""


def optimize_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """Return ``(weight << scale_bits, num_weight_bits, weight_exp, sign_mode)`` as stock netx computes them.

    ``sign_mode`` is 1 (mixed), 2 (excitatory) or 3 (inhibitory), lava-dl's ``SYNAPSE_SIGN_MODE``.
    """
    weight = np.asarray(weight)
    max_weight, min_weight = np.max(weight), np.min(weight)
    if (max_weight > 254 and min_weight < 0) or (min_weight < -256 and max_weight > 0):
        weight = np.clip(weight, -256, 254)
        max_weight, min_weight = np.max(weight), np.min(weight)
    if max_weight < 0:
        sign_mode, is_signed, scale = 3, 0, -256 / min_weight
    elif min_weight >= 0:
        sign_mode, is_signed = 2, 0
        scale = 255 / max_weight if max_weight > 0 else 1.0
    else:
        sign_mode, is_signed = 1, 1
        with np.errstate(divide="ignore"):  # max_weight == 0: only the negative side limits the scale
            scale = min(np.float64(127) / max_weight, -128 / min_weight)
    scale_bits = np.floor(np.log2(scale)) + is_signed
    n = 8
    while n > 0 and np.sum(np.abs(weight / 2**n - np.round(weight / 2**n))) != 0:
        n -= 1
    n -= is_signed
    num_weight_bits = 8 - scale_bits - n
    weight = np.left_shift(weight.astype(np.int32), int(scale_bits))
    return weight.astype(int), int(num_weight_bits), int(-scale_bits), sign_mode
