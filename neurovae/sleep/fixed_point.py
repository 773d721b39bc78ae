r"""Mirrored STDP in Loihi's fixed-point learning engine, as Lava's ``fixed_pt`` models run it (lava-nc 0.10.0).

Lava's bit-approximate learning engine (``LearningConnectionModelBitApproximate``) keeps 8-bit weights ``W``
(mixed sign: -256..255) and evaluates each product ``m 2^e * dep * f_1 ... f_n`` of a ``dw`` rule on integers,

.. math::

    p = \big((m \cdot dep \cdot f_1 \cdots f_n) \gg (\textstyle\sum_i b_i + 4 - 15)\big) \ll (e + 7),

each factor clipped to its width ``b`` (a trace 7 bits, ``w + c`` 9 bits); the products are added to ``W << 7``
with 15-bit saturation, and the sum is rounded stochastically back to 8 bits with one random number per step
(numpy's PCG64, seed 2, the same stream in every connection), then clipped.

VAE-sleep's rule (:class:`~neurovae.sleep.stdp.MirroredSTDP`) on weights ``W = w 2^k``, bounds ``LB = w_lb 2^k``
and ``UB = w_ub 2^k`` needs two products per direction. Forward (visible -> hidden, dependency ``y0``)::

    m_A*2^e_A * y0 * x1 * (w - LB) * (w - UB)  +  m_B*2^e_B * y0 * y1 * (w - LB) * (w - UB)

with one-step traces (time constant -> 0): ``x1 = I_vis`` where the visible neuron fired in this step, else 0,
and ``y1 = I_hid`` for the firing hidden neuron. ``(w - LB)(w - UB) = -S(W)``, so term A is the potentiation
plus depression where the input fired, ``(a_LTP + a_LTD) 2^-k S(W)``, and term B the depression ``-a_LTD 2^-k S(W)``.
The mirror (hidden -> visible, dependency ``x0``) swaps the traces' roles (``y1 = I_vis``, ``x1 = I_hid``), so both
directions move on the same spike pairs by the same amounts. Each term's 14-bit shift leaves too little room for
Loihi's scale ``m 2^e`` alone (``e >= -7``); the trace impulse (1..127) is the third knob: ``m I 2^(e - 14)`` is
chosen closest to the target, and :meth:`FixedPointRule.realized` gives the rule the integers implement. A lowered
convolution multiplies each product by the synapse tag ``t`` as well (:data:`SYNAPSE_TAG` where a synapse
exists, 0 elsewhere): the shift grows to 23 bits and ``m I 255 2^(e - 23)`` is matched instead, within int32.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neurovae.errors import ConfigError
from neurovae.sleep.stdp import MirroredSTDP

WEIGHT_BITS = 8  # unsigned width of Loihi's synaptic weights
WEIGHT_MIN, WEIGHT_MAX = -(2**WEIGHT_BITS), 2**WEIGHT_BITS - 1  # mixed sign: one bit more for the sign
FACTOR_BITS = {"x1": 7, "y1": 7, "w": 9, "t": 9}  # W_TRACE; W_WEIGHTS_S and W_TAG_1_S (signed 8 bits + constant)
MANTISSA_BITS = 4  # W_S_MANT
ACCUMULATOR_BITS = 15  # W_ACCUMULATOR_U
ACCUMULATOR_SHIFT = 7  # W_ACCUMULATOR_S - W_WEIGHTS_S: weights sit 7 bits up in the accumulator
ROUNDING_SEED = 2  # lava.magma.core.learning.random.ConnVarRandom's default seed
MAX_IMPULSE = 2**FACTOR_BITS["x1"] - 1
SYNAPSE_TAG = 255  # tag_1 of a real synapse of a lowered convolution (0: none), the largest 8-bit tag
INT32_LIMIT = 2**31  # Lava multiplies a product's factors in int32


@dataclass(frozen=True)
class Product:
    """One product of a Loihi ``dw`` rule: ``mantissa * 2^exponent * dependency * factor_1 * ...``.

    Attributes:
        dependency: ``"x0"`` (the pre neuron fired) or ``"y0"`` (the post neuron fired).
        factors: ``(variable, constant)`` pairs, ``variable`` one of ``x1``, ``y1``, ``w``, ``t`` (``tag_1``); the
            factor is ``variable + constant``.
        mantissa: -8..7.
        exponent: -7..8.
    """

    dependency: str
    factors: tuple[tuple[str, int], ...]
    mantissa: int
    exponent: int

    def __post_init__(self) -> None:
        if self.dependency not in ("x0", "y0"):
            raise ValueError(f"dependency must be x0 or y0, got {self.dependency!r}")
        if not -8 <= self.mantissa <= 7 or not -7 <= self.exponent <= 8:
            raise ValueError(f"Loihi scales are m * 2^e with -8 <= m <= 7, -7 <= e <= 8; got {self.mantissa}, "
                             f"{self.exponent}")
        unknown = {name for name, _ in self.factors} - set(FACTOR_BITS)
        if unknown:
            raise ValueError(f"factors must be among {sorted(FACTOR_BITS)}, got {sorted(unknown)}")

    @property
    def shift(self) -> int:
        """The right shift back to the 15-bit accumulator (the factors' widths plus the mantissa's, minus 15)."""
        return max(0, sum(FACTOR_BITS[name] for name, _ in self.factors) + MANTISSA_BITS - ACCUMULATOR_BITS)

    def lava(self) -> str:
        """The product in Lava's rule syntax, e.g. ``-3*2^-7 * y0 * x1 * (w - 256) * (w + 256)``."""
        terms = [f"{self.mantissa}*2^{self.exponent}", self.dependency]
        for name, constant in self.factors:
            terms.append(name if constant == 0 else f"({name} {'-' if constant < 0 else '+'} {abs(constant)})")
        return " * ".join(terms)


def _shift_and_tag(tagged: bool) -> tuple[int, int]:
    """A rule term's right shift (two 9-bit ``w`` factors, a trace and, if tagged, ``t``) and its tag factor."""
    factors = (("x1", 0), ("w", 0), ("w", 0)) + ((("t", 0),) if tagged else ())
    return Product("y0", factors, 1, 0).shift, (SYNAPSE_TAG if tagged else 1)


@dataclass(frozen=True)
class FixedPointRule:
    """The mirrored STDP rule in integers for one sleeping layer (weights ``W = w 2^weight_exponent``).

    Build it with :meth:`for_weights`; :meth:`dw` gives Lava's rule strings and :meth:`impulses` the traces',
    :func:`learn` applies it as Lava does.
    """

    weight_exponent: int
    lower: int  # LB
    upper: int  # UB
    both: tuple[int, int, int]  # (mantissa, exponent, visible impulse) of term A
    depression: tuple[int, int, int] | None  # (mantissa, exponent, hidden impulse) of term B; None if a_LTD = 0
    tagged: bool = False  # each product carries the synapse tag t (lowered convolutions)

    @classmethod
    def for_weights(cls, rule: MirroredSTDP, max_abs_weight: float, tagged: bool = False) -> FixedPointRule:
        """The finest weight exponent ``k`` at which the weights and the bounds fit, and the closest integers.

        ``|W| <= 255`` and ``|LB|, |UB| <= 256`` (so that ``w - LB`` and ``w - UB`` fit the engine's 9-bit factors).
        ``tagged``: the products carry the synapse tag ``t`` (:data:`SYNAPSE_TAG` where a synapse exists, else 0),
        so that the entries of a lowered convolution that are no synapse never learn.
        """
        if not rule.plastic:
            raise ConfigError("a_ltp and a_ltd are both 0: the sleep would change no weight; give a positive step")
        if not math.isfinite(max_abs_weight):
            raise ConfigError(f"the largest weight is {max_abs_weight}; a layer holds NaN or infinite weights")
        bound = max(abs(rule.w_lb), abs(rule.w_ub))
        limits = [math.floor(math.log2(2**WEIGHT_BITS / bound))]
        if max_abs_weight > 0:
            limits.append(math.floor(math.log2(WEIGHT_MAX / max_abs_weight)))
        k = min(limits)
        lower, upper = round(rule.w_lb * 2**k), round(rule.w_ub * 2**k)
        if not lower < upper:
            raise ConfigError(f"the STDP bounds [{rule.w_lb}, {rule.w_ub}] collapse to one value at Loihi's 8-bit "
                              f"weights (x 2^{k}); widen them")
        weights = np.arange(WEIGHT_MIN, WEIGHT_MAX + 1)
        largest = int(np.abs(np.clip(weights - lower, -512, 511) * np.clip(weights - upper, -512, 511)).max())
        shift, tag = _shift_and_tag(tagged)
        scale = _Scale(shift=shift, tag=tag, largest_stabilizer=largest)
        both = scale.closest((rule.a_ltp + rule.a_ltd) * 2.0**-k, negative=True)
        depression = scale.closest(rule.a_ltd * 2.0**-k, negative=False) if rule.a_ltd > 0 else None
        return cls(k, lower, upper, both, depression, tagged)

    @property
    def unit(self) -> float:
        """ANN weight per integer weight unit, ``2^-k``."""
        return 2.0**-self.weight_exponent

    def products(self, feedback: bool = False) -> list[Product]:
        """The rule's products; ``feedback``: the decoder mirror (hidden -> visible, dependency ``x0``)."""
        dependency, visible, hidden = ("x0", "y1", "x1") if feedback else ("y0", "x1", "y1")
        common = (("w", -self.lower), ("w", -self.upper)) + ((("t", 0),) if self.tagged else ())
        out = [Product(dependency, ((visible, 0), *common), self.both[0], self.both[1])]
        if self.depression is not None:
            out.append(Product(dependency, ((hidden, 0), *common), self.depression[0], self.depression[1]))
        return out

    def dw(self, feedback: bool = False) -> str:
        """Lava's ``dw`` string of :meth:`products`."""
        text = ""
        for product in self.products(feedback):
            spelled = product.lava()
            text += spelled if not text else (f" - {spelled[1:]}" if spelled.startswith("-") else f" + {spelled}")
        return text

    def impulses(self, feedback: bool = False) -> dict[str, int]:
        """The connection's trace impulses: the visible neuron's trace carries ``I_vis``, the hidden one's ``I_hid``."""
        visible, hidden = self.both[2], self.depression[2] if self.depression else 0
        return {"x1": hidden, "y1": visible} if feedback else {"x1": visible, "y1": hidden}

    def realized(self) -> MirroredSTDP:
        """The ANN-unit rule the integers implement (up to the engine's truncations and stochastic rounding)."""
        shift, tag = _shift_and_tag(self.tagged)

        def value(term: tuple[int, int, int] | None) -> float:
            if term is None:
                return 0.0
            return abs(term[0]) * term[2] * tag * 2.0 ** (term[1] - shift + self.weight_exponent)

        a_ltd = value(self.depression)
        return MirroredSTDP(value(self.both) - a_ltd, a_ltd, self.lower * self.unit, self.upper * self.unit)

    def summary(self) -> dict[str, Any]:
        """What the chip runs, for a sleep's record: weight exponent, bounds, rule strings and the realized rule."""
        realized = self.realized()
        return {"weight_exponent": self.weight_exponent, "bounds": [self.lower, self.upper], "dw": self.dw(),
                "impulses": self.impulses(), "realized": {"a_ltp": realized.a_ltp, "a_ltd": realized.a_ltd,
                                                          "w_lb": realized.w_lb, "w_ub": realized.w_ub}}

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        """ANN weights as Lava's integers (int64): ``round(w 2^k)`` to an even number within -256..254.

        Lava's mixed-sign truncation of 8-bit weights keeps even numbers unchanged.
        """
        halves = torch.round(weight.double() * 2.0 ** (self.weight_exponent - 1))
        return (halves * 2).clamp(WEIGHT_MIN, WEIGHT_MAX - 1).to(torch.int64)


@dataclass(frozen=True)
class _Scale:
    """How one product scales: ``((|m| I tag S) >> shift) << (e + 7)``, with ``|m| I tag S`` within int32."""

    shift: int
    tag: int
    largest_stabilizer: int

    def closest(self, target: float, negative: bool) -> tuple[int, int, int]:
        """``(m, e, I)`` with ``|m| I tag 2^(e - shift)`` closest to ``target`` weight units per unit of ``S(W)``.

        Ties go to the larger ``|m| I``: more bits survive the shift.
        """
        best, best_key = None, None
        for mantissa, exponent, impulse in itertools.product(range(1, 8), range(-7, 9), range(1, MAX_IMPULSE + 1)):
            if mantissa * impulse * self.tag * self.largest_stabilizer >= INT32_LIMIT:
                continue
            error = abs(mantissa * impulse * self.tag * 2.0 ** (exponent - self.shift) - target) / target
            key = (error, -mantissa * impulse)
            if best_key is None or key < best_key:
                best, best_key = (mantissa, exponent, impulse), key
        if best_key is None or best_key[0] > 0.05:
            raise ConfigError(f"an STDP step of {target:.3g} weight units per unit of the stabilizer is outside what "
                              "Loihi's learning engine can scale; change a_ltp / a_ltd or the weight bounds")
        mantissa, exponent, impulse = best
        return (-mantissa if negative else mantissa), exponent, impulse


def rounding_randoms() -> Iterator[float]:
    """The random numbers Lava's stochastic rounding uses at steps 1, 2, ... (one draw at start, one per step)."""
    generator = np.random.default_rng(ROUNDING_SEED)
    generator.random()
    while True:
        yield from generator.random(4096).tolist()  # drawn in blocks: the same stream as one draw per step


def _padded_indices(mask: torch.Tensor) -> torch.Tensor:
    """Per row of ``mask``, the column indices of its True entries, padded with -1 to the longest row's count."""
    rows, columns = mask.nonzero(as_tuple=True)
    counts = mask.sum(1)
    rank = torch.arange(len(rows)) - (counts.cumsum(0) - counts)[rows]
    out = torch.full((mask.shape[0], int(counts.max()) if len(rows) else 0), -1, dtype=torch.int64)
    out[rows, rank] = columns
    return out


@dataclass(frozen=True)
class Tags:
    """A connection's synapse tags ``tag_1`` ``[n_post, n_pre]``, with where the tagged synapses lie.

    Every product of a tagged rule carries ``t``, so an entry with tag 0 (no synapse of the lowered convolution)
    never changes. :func:`learn` therefore visits only the tagged entries of the rows (columns) that fired: a
    4x4 convolution lowered to a dense matrix has a few dozen synapses in rows thousands of entries long.
    """

    values: torch.Tensor
    by_row: torch.Tensor  # [n_post, most tagged in a row]: the columns of each row's tagged entries, -1 pads
    by_column: torch.Tensor  # [n_pre, most tagged in a column]: the rows of each column's tagged entries

    @classmethod
    def of(cls, values: torch.Tensor) -> Tags:
        """Index the nonzero entries of ``values`` (int64 ``[n_post, n_pre]``)."""
        tagged = values != 0
        return cls(values, _padded_indices(tagged), _padded_indices(tagged.T))


def learn(weight: torch.Tensor, products: list[Product], pre: torch.Tensor, post: torch.Tensor,
          impulses: dict[str, int], random: float, tags: Tags | None = None) -> torch.Tensor:
    """One learning epoch (``t_epoch = 1``) of a connection, bit for bit as Lava's fixed-point engine.

    Args:
        weight: integer weights ``[n_post, n_pre]`` (int64), changed in place where the rule acts.
        products: the rule.
        pre: pre spikes of this step ``[n_pre]`` (bool).
        post: post spikes of this step ``[n_post]`` (bool).
        impulses: trace impulses (``x1`` of the pre, ``y1`` of the post neurons).
        random: this step's rounding random number (:func:`rounding_randoms`).
        tags: the synapses' ``tag_1``, for rules with the factor ``t``.

    Returns:
        ``weight``.
    """
    dependencies = {product.dependency for product in products}
    if len(dependencies) != 1:
        raise ValueError(f"a rule's products must share one dependency, got {sorted(dependencies)}")
    on_post = dependencies == {"y0"}
    fired = (post if on_post else pre).nonzero().flatten()
    if not len(fired):
        return weight  # every product is 0, and rounding leaves whole weights as they are
    valid = None
    if tags is None:  # only the fired rows (columns) can change
        index = (fired,) if on_post else (slice(None), fired)
        pre_at, post_at = (pre, post[fired].unsqueeze(1)) if on_post else (pre[fired], post.unsqueeze(1))
    else:  # only their tagged entries
        others = (tags.by_row if on_post else tags.by_column)[fired]  # [fired, most tagged]
        valid, others = others >= 0, others.clamp(min=0)
        index = (fired.unsqueeze(1), others) if on_post else (others, fired.unsqueeze(1))
        pre_at, post_at = (pre[others], post[fired].unsqueeze(1)) if on_post else (pre[fired].unsqueeze(1),
                                                                                  post[others])
    block = weight[index]
    variables = {"x1": pre_at.to(torch.int64) * impulses.get("x1", 0),
                 "y1": post_at.to(torch.int64) * impulses.get("y1", 0), "w": block}
    if tags is not None:
        variables["t"] = tags.values[index] * valid
    total = block << ACCUMULATOR_SHIFT
    for product in products:
        value = torch.full_like(block, product.mantissa)
        for name, constant in product.factors:
            factor = variables[name] + constant
            limit = 1 << FACTOR_BITS[name]
            value = value * factor.clamp(-limit, limit - 1)
        value = (value >> product.shift) << (product.exponent + ACCUMULATOR_SHIFT)
        saturation = (1 << ACCUMULATOR_BITS) - 1
        total = (total + value.clamp(-saturation - 2, saturation)).clamp(-saturation - 2, saturation)
    scaled = total.double() / 2**ACCUMULATOR_SHIFT
    floor = torch.floor(scaled)
    rounded = (floor + (random < scaled - floor).double()).to(torch.int64).clamp(WEIGHT_MIN, WEIGHT_MAX)
    if valid is None:
        weight[index] = rounded
    else:  # the pads point at real entries: never write them
        rows, columns = (index[0].expand_as(valid), index[1]) if on_post else (index[0], index[1].expand_as(valid))
        weight[rows[valid], columns[valid]] = rounded[valid]
    return weight
