r"""Mirrored, weight-dependent STDP (Talafha et al. 2020, eq. 6 and Algorithm 1; Burbank 2015).

For a synapse from visible (pre) neuron ``i`` to hidden (post) neuron ``j``, in every step where ``j`` fires:

.. math::

    \Delta w_{ji} = S(w_{ji}) \cdot \begin{cases} +a_{LTP} & i \text{ fired in the same step} \\
                                                -a_{LTD} & i \text{ was silent} \end{cases},
    \qquad S(w) = (w - w_{LB})(w_{UB} - w)

``S`` slows the change near the bounds. "Mirrored": the feedback synapse from ``j`` back to ``i`` gets the
same change, so a decoder weight moves with its encoder twin. Pairs are counted by :func:`dense_pairs` or
:func:`conv_pairs` and turned into a weight change by :meth:`MirroredSTDP.delta`; Lava's learning engine runs the
same rule from :meth:`MirroredSTDP.lava_dw` (see :mod:`neurovae.sleep.lava_sleep`; in fixed point, from
:mod:`neurovae.sleep.fixed_point`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neurovae.errors import ConfigError

LAVA_MANTISSA_LIMIT = 8  # Loihi product scales are m * 2^e with -8 <= m < 8 ...
LAVA_EXPONENT_RANGE = (-7, 8)  # ... and -7 <= e <= 8
LAVA_SCALE_TERMS = 4  # dyadic terms per constant: about 12 significant bits


@dataclass(frozen=True)
class MirroredSTDP:
    """Step sizes and weight bounds of the mirrored STDP rule (weights in ANN units).

    Args:
        a_ltp: potentiation step (post and pre fire), >= 0.
        a_ltd: depression step (post fires, pre silent), >= 0.
        w_lb: lower weight bound of the stabilizer ``S(w)``.
        w_ub: upper weight bound, > ``w_lb``.
    """

    a_ltp: float
    a_ltd: float
    w_lb: float
    w_ub: float

    def __post_init__(self) -> None:
        for name in ("a_ltp", "a_ltd", "w_lb", "w_ub"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"STDP {name} must be a finite number, got {getattr(self, name)}")
        if self.a_ltp < 0 or self.a_ltd < 0:
            raise ConfigError(f"STDP steps must be >= 0, got a_ltp {self.a_ltp}, a_ltd {self.a_ltd}")
        if not self.w_lb < self.w_ub:
            raise ConfigError(f"STDP weight bounds need w_lb < w_ub, got w_lb {self.w_lb} >= w_ub {self.w_ub}")

    @property
    def plastic(self) -> bool:
        """Whether the rule changes any weight (calibration runs the sleep with both steps at 0)."""
        return self.a_ltp > 0 or self.a_ltd > 0

    def stabilizer(self, weights: torch.Tensor) -> torch.Tensor:
        """``S(w) = (w - w_LB)(w_UB - w)``: zero at both bounds, largest midway."""
        return (weights - self.w_lb) * (self.w_ub - weights)

    def delta(self, weights: torch.Tensor, both: torch.Tensor, post_only: torch.Tensor) -> torch.Tensor:
        """Weight change from pair counts (same shape as ``weights``): ``S(w) (a_LTP both - a_LTD post_only)``."""
        return self.stabilizer(weights) * (self.a_ltp * both - self.a_ltd * post_only)

    def lava_dw(self, weight_exponent: int = 0, feedback: bool = False, tagged: bool = False) -> str:
        """The rule as a Loihi ``dw`` string for weights stored as ``w * 2^weight_exponent``.

        Forward synapses (visible -> hidden): with a pre trace ``x1`` that is 1 in a step where the visible neuron
        fires and 0 otherwise, the rule is ``y0 S(w) ((a_LTP + a_LTD) x1 - a_LTD)``. ``feedback`` (hidden ->
        visible, the mirror) swaps the roles: ``x0 S(w) ((a_LTP + a_LTD) y1 - a_LTD)``, so both directions move on
        the same pairs. Each constant becomes a sum of Loihi scales (:func:`lava_scale_terms`); :meth:`realized`
        gives the rule those scales actually implement. ``tagged`` multiplies every product by the synapse tag
        ``t`` (1 where a lowered convolution has a synapse, 0 where it has none, so those entries never learn).
        """
        lower, upper = (_lava_offset(-b * 2.0**weight_exponent) for b in (self.w_lb, self.w_ub))
        stabilizer = f"(w {lower}) * (w {upper})" + (" * t" if tagged else "")  # -S(w): the signs absorb the minus
        hidden, visible = ("x0", "y1") if feedback else ("y0", "x1")
        products = []
        for scale_value, factors in (((self.a_ltp + self.a_ltd), f"{hidden} * {visible} * {stabilizer}"),
                                     (-self.a_ltd, f"{hidden} * {stabilizer}")):
            for mantissa, exponent in lava_scale_terms(-scale_value * 2.0**-weight_exponent):
                products.append(f"{mantissa}*2^{exponent} * {factors}")
        return " + ".join(products) if products else f"0 * {hidden}"

    def realized(self, weight_exponent: int = 0) -> MirroredSTDP:
        """The rule that :meth:`lava_dw` implements once its constants are rounded to Loihi scales."""
        def rounded(value: float) -> float:
            terms = lava_scale_terms(value * 2.0**-weight_exponent)
            return sum(m * 2.0**e for m, e in terms) * 2.0**weight_exponent

        both = rounded(self.a_ltp + self.a_ltd)
        a_ltd = rounded(self.a_ltd)
        return MirroredSTDP(both - a_ltd, a_ltd, self.w_lb, self.w_ub)

    def lava_weight_exponent(self) -> int:
        """A power of two for Lava's weight units that brings the smallest step into Loihi's scale range."""
        smallest = min((v for v in (self.a_ltp + self.a_ltd, self.a_ltd) if v > 0), default=1.0)
        return min(0, math.floor(math.log2(smallest)))


def lava_scale_terms(value: float, terms: int = LAVA_SCALE_TERMS) -> list[tuple[int, int]]:
    """``value`` as a short sum of Loihi product scales ``m * 2^e`` (greedy, largest first).

    Example:
        >>> lava_scale_terms(0.375)
        [(3, -3)]
    """
    out: list[tuple[int, int]] = []
    rest = value
    low, high = LAVA_EXPONENT_RANGE
    for _ in range(terms):
        if rest == 0:
            break
        exponent = max(low, min(high, math.floor(math.log2(abs(rest))) - 2))
        mantissa = max(-LAVA_MANTISSA_LIMIT + 1, min(LAVA_MANTISSA_LIMIT - 1, round(rest / 2.0**exponent)))
        if mantissa == 0:
            break
        rest -= mantissa * 2.0**exponent
        while mantissa % 2 == 0 and exponent < high:  # the shortest spelling, as Lava normalizes it
            mantissa, exponent = mantissa // 2, exponent + 1
        out.append((mantissa, exponent))
    return out


def _lava_offset(value: float) -> str:
    """``+ m*2^e`` or ``- m*2^e``: a float added exactly in a Lava factor (every float is an integer over 2^k)."""
    numerator, denominator = abs(float(value)).as_integer_ratio()
    return f"{'-' if value < 0 else '+'} {numerator}*2^-{denominator.bit_length() - 1}"


def dense_pairs(pre: torch.Tensor, post: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair counts ``[n_post, n_pre]`` of one step, summed over the batch: (post & pre, post & not pre).

    Args:
        pre: pre spikes ``[B, n_pre]`` (0/1).
        post: post spikes ``[B, n_post]`` (0/1) of the same step.
    """
    both = post.T @ pre
    return both, post.sum(0).unsqueeze(1) - both


def conv_pairs(pre: torch.Tensor, post: torch.Tensor, weight_shape: torch.Size | tuple[int, ...],
               stride: int, padding: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair counts of a convolution, per shared weight: the dense counts averaged over the positions sharing it.

    A convolution is a dense layer whose synapses at every output position share one weight; each weight is
    moved by the mean of its synapses' changes (so a shared weight learns as fast as one dense synapse). Output
    positions whose tap falls on the zero padding have no synapse and are not counted.

    Args:
        pre: input spikes ``[B, C_in, H, W]``.
        post: output spikes ``[B, C_out, H', W']`` of the same step.
        weight_shape: the convolution's weight shape ``[C_out, C_in, k, k]``.
        stride: convolution stride.
        padding: convolution zero padding.
    """
    def correlate(images: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        shape = (outputs.shape[1], images.shape[1], *weight_shape[2:])
        return torch.nn.grad.conv2d_weight(images, shape, outputs, stride=stride, padding=padding)

    both = correlate(pre, post)
    post_with_synapse = correlate(torch.ones_like(pre), post)
    positions = correlate(torch.ones_like(pre[:1, :1]), torch.ones_like(post[:1, :1]))  # [1, 1, k, k]
    return both / positions, (post_with_synapse - both) / positions
