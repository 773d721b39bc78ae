r"""Fixed-point quantization of a netx network for Loihi / Lava ``fixed_pt``: a pure function of records.

:func:`quantize_network` takes a (float) :class:`~neurovae.netx.NetworkRecord` and returns a new one whose every
parameter is a whole number in Loihi's formats (the model and the input record are left untouched). The formats
are those of Lava 0.10's bit-accurate LIF and Dense and lava-dl netx's mapping (``du = iDecay - 1``,
``dv = vDecay``, ``vth = vThMant``, ``bias_exp = 6``):

================  ===========================  ==========================================================
parameter         stored as                    why
================  ===========================  ==========================================================
weight            signed 8-bit, -128..127      netx shifts mixed-sign weights one bit left (even values in
                                               -256..254) and Lava's ``Dense`` then drops the lowest bit,
                                               which is zero: no loss. Odd values beyond 127 would lose it.
                                               (Quirk: an all-negative dense matrix whose minimum is a
                                               power of two loses a step there: netx scales it to -256,
                                               which Lava clips to -255. Trained layers have mixed signs.)
bias              signed 13-bit, -4096..4095   Lava's ``bias_mant``; ``bias_exp = 6`` puts it on the 6
                                               fractional bits of u and v, so it is in device units
vThMant           1..131071 (17 bits)          compared with v after ``vth << 6`` in the 24-bit state
vMinMant          round(vThMant x its float    neurovae's lower bound of v (``v_min << 6``), when the layer
                  ratio to vThMant), <= 0      has one (the SAE's -omega)
vDecay            round(4096 (1 - beta)),      12-bit ``dv``; Lava adds no offset to dv, so 4096 (beta = 0)
                  0..4095                      becomes 4095 and leaves 1/4096 of the voltage
iDecay            4096 (kept)                  ``du = 4095`` plus Lava's ``ds_offset = 1`` decays the current
                                               fully every step: no residual current in Lava 0.10
================  ===========================  ==========================================================

Per-layer scales. A layer's neurons only see their own synapse's output and spikes carry no unit, so each
layer l may use its own scale s_l (device units per training unit) as long as its weights, bias and threshold
share it: the quantized network then computes the float network's dynamics up to rounding. By default
(``scale=None``) s_l is the largest scale at which the layer's weights fit 8 bits, its bias 13 bits and its
threshold 17 bits, lowered to the nearest scale that makes ``threshold x s_l`` a whole number, so thresholds are
exact (a threshold error would shift every neuron of the layer the same way; weight rounding errors are
independent and average out). Weights then carry an error of at most half a step, ``0.5 / s_l`` training units.
The scales are stored in the file's ``layer_scales`` attribute and ``weight_scale`` is set to the last spiking
layer's scale, which is what a voltage readout is divided by (:func:`neurovae.simulate.host.decoded_images`).
With ``scale=S`` every layer uses S (lava-dl's convention, e.g. 64) and a value that does not fit is an error.

Direct (graded) input. In fixed point the runner sends an input x as ``round(64 x)`` and shifts the first
synapse's sum right by 6 bits, which floors it: the current is low by 63/128 device units on average. The first
layer of a ``direct`` network therefore gets half a device unit added to its bias before rounding
(``direct_offset``), which cancels that bias on average.

Example:
    >>> import numpy as np
    >>> from neurovae.netx import CubaNeuron, DenseLayer, InputLayer, NetworkRecord
    >>> weight = np.array([[0.3, -1.0]]) * 64  # device units of a float export (weight_scale 64)
    >>> net = NetworkRecord((InputLayer((2,)), DenseLayer(weight, CubaNeuron(vDecay=3072, vThMant=0.2 * 64))))
    >>> fixed = quantize_network(net)
    >>> fixed.layers[1].weight.tolist(), fixed.layers[1].neuron.vThMant, fixed.weight_scale
    ([[38.0, -125.0]], 25.0, 125.0)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from neurovae.errors import NeurovaeError
from neurovae.netx import CubaNeuron, DenseLayer, Layer, NetworkRecord, NetxError

DIRECT_OFFSET = 0.5
"""Device units added to a direct-input first layer's bias before rounding (see the module docstring)."""


class QuantizationError(NeurovaeError):
    """A network cannot be represented in the requested fixed-point format; the message says which layer."""


@dataclass(frozen=True)
class FixedPointFormat:
    """Bit widths of Loihi's CUBA neuron and synapse parameters (defaults: Lava 0.10's bit-accurate models).

    Attributes:
        weight_bits: signed weight bits (8: -128..127).
        bias_bits: signed bias mantissa bits (13: -4096..4095; the bias exponent is 6, netx's).
        threshold_bits: unsigned threshold mantissa bits (17: vThMant up to 131071).
        decay_bits: decay bits (12: vDecay 0..4095 on the 4096 scale).
        state_bits: bits of u and v, of which 6 are fractional (24: |current| < 2**17 device units).
    """

    weight_bits: int = 8
    bias_bits: int = 13
    threshold_bits: int = 17
    decay_bits: int = 12
    state_bits: int = 24

    def __post_init__(self) -> None:
        for name, low, high in (("weight_bits", 2, 8), ("bias_bits", 2, 13), ("threshold_bits", 1, 17),
                                ("decay_bits", 1, 12), ("state_bits", 8, 24)):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or not low <= value <= high:
                raise QuantizationError(f"{name}={value!r} must be a whole number in {low}..{high} (Loihi's limit)")

    @property
    def weight_range(self) -> tuple[int, int]:
        """Smallest and largest weight."""
        return -(1 << (self.weight_bits - 1)), (1 << (self.weight_bits - 1)) - 1

    @property
    def bias_range(self) -> tuple[int, int]:
        """Smallest and largest bias mantissa."""
        return -(1 << (self.bias_bits - 1)), (1 << (self.bias_bits - 1)) - 1

    @property
    def threshold_max(self) -> int:
        """Largest vThMant; a readout layer's "never fires" threshold."""
        return (1 << self.threshold_bits) - 1

    @property
    def decay_max(self) -> int:
        """Largest vDecay (Lava adds no offset to ``dv``)."""
        return (1 << self.decay_bits) - 1

    @property
    def current_max(self) -> float:
        """Largest |u| in device units: the 24-bit state less its 6 fractional bits."""
        return float(1 << (self.state_bits - 7))


LOIHI = FixedPointFormat()
"""Loihi's formats as Lava 0.10 models them."""


@dataclass(frozen=True)
class LayerQuantization:
    """How one spiking layer was quantized (a row of :func:`quantize_with_report`).

    Attributes:
        index: layer index in the network.
        type: netx layer type.
        scale: device units per training unit.
        limited_by: what set the scale: ``weights``, ``bias``, ``threshold`` or ``given`` (an explicit scale).
        weight_max: the largest |weight| in device units (127: the 8-bit range is used fully).
        weight_error: the largest |quantized - float| weight, in weight steps (at most 0.5).
        bias_error: the largest bias error in device units (0.5 at most, 1 with the direct-input offset).
        threshold_error: relative threshold error (0 with automatic scales).
        vdecay: the float and the quantized vDecay.
        current_max: the largest current any neuron can receive (all inputs 1, device units) over the format's
            limit ``2**17``: above 1 a layer may wrap its 24-bit current.
        readout: whether the layer is a voltage readout that never fires (its threshold stays ``2**17 - 1``).
    """

    index: int
    type: str
    scale: float
    limited_by: str
    weight_max: int
    weight_error: float
    bias_error: float
    threshold_error: float
    vdecay: tuple[float, int]
    current_max: float
    readout: bool


def _is_readout(network: NetworkRecord, index: int, fmt: FixedPointFormat) -> bool:
    """The last layer of a voltage readout whose threshold says "never fires" (it keeps Loihi's largest)."""
    last = network.readout == "voltage" and index == network.spiking_layers[-1]
    return last and network.layers[index].neuron.vThMant >= fmt.threshold_max


def _limit(values: np.ndarray | None, low: float, high: float) -> float:
    """The largest scale s with low <= values * s <= high (inf if values are all zero or None)."""
    if values is None or values.size == 0:
        return math.inf
    top, bottom = float(values.max()), float(values.min())
    return min(high / top if top > 0 else math.inf, low / bottom if bottom < 0 else math.inf)


def _auto_scale(index: int, layer: Layer, weight: np.ndarray, bias: np.ndarray | None, threshold: float | None,
                offset: float, fmt: FixedPointFormat) -> tuple[float, str]:
    """The largest scale that fits every parameter, lowered so that the threshold is a whole number."""
    (w_low, w_high), (b_low, b_high) = fmt.weight_range, fmt.bias_range
    limits = {
        "weights": _limit(weight, w_low, w_high),
        "bias": _limit(bias, b_low - offset, b_high - offset) if bias is not None else math.inf,
        "threshold": fmt.threshold_max / threshold if threshold is not None else math.inf,
    }
    limited_by = min(limits, key=limits.get)
    scale = limits[limited_by]
    if not math.isfinite(scale):
        raise QuantizationError(f"layer {index} ({layer.type}) has no nonzero weights, bias or threshold to set "
                                "its scale (or only ones below 1e-300); give an explicit scale (--weight-scale)")
    if threshold is not None:
        whole = math.floor(threshold * scale * (1 + 1e-12))
        if whole < 1:
            raise QuantizationError(
                f"layer {index} ({layer.type}): its threshold {threshold:.3g} rounds to 0 at the largest scale its "
                f"{limited_by} allow ({scale:.3g}): they are too large against the threshold for Loihi's formats; "
                "retrain with smaller weights (e.g. more weight decay)")
        scale = min(whole / threshold, scale)
    return scale, limited_by


def _check_range(index: int, layer: Layer, name: str, values: np.ndarray, low: int, high: int, scale: float,
                 bits: int) -> None:
    bad = (values < low) | (values > high)
    if np.any(bad):
        worst = float(values[bad][np.argmax(np.abs(values[bad]))])
        if name == "threshold" and worst < low:
            raise QuantizationError(
                f"layer {index} ({layer.type}): its threshold rounds to {worst:.0f} device units at scale {scale:g}; "
                "use a larger --weight-scale or leave it out for automatic per-layer scales")
        raise QuantizationError(
            f"layer {index} ({layer.type}): a {name} of {worst:.0f} device units at scale {scale:g} is beyond "
            f"the {bits}-bit range {low}..{high}; use a smaller --weight-scale or leave it out for automatic "
            "per-layer scales")


def _quantize_neuron(index: int, layer: Layer, neuron: CubaNeuron, threshold: float | None, scale: float,
                     fmt: FixedPointFormat) -> CubaNeuron:
    i_decay = round(neuron.iDecay)
    if i_decay < 1:
        raise QuantizationError(
            f"layer {index} ({layer.type}): iDecay={neuron.iDecay:g} rounds to 0, which Lava's fixed-point LIF "
            "cannot run (du = iDecay - 1); neurovae's LIF uses iDecay 4096")
    v_decay = min(max(round(neuron.vDecay), 0), fmt.decay_max)
    if threshold is None:
        v_th = fmt.threshold_max
    else:
        v_th = round(threshold * scale)
        _check_range(index, layer, "threshold", np.array([v_th]), 1, fmt.threshold_max, scale, fmt.threshold_bits)
    # a voltage bound keeps its ratio to the threshold (the SAE's -omega stays minus the threshold)
    v_min = None if neuron.vMinMant is None else round(neuron.vMinMant / neuron.vThMant * v_th)
    return dataclasses.replace(neuron, iDecay=i_decay, vDecay=v_decay, vThMant=v_th, vMinMant=v_min)


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(values + 0.5)


def quantize_network(network: NetworkRecord, scale: float | None = None, fmt: FixedPointFormat = LOIHI,
                     direct_offset: bool = True) -> NetworkRecord:
    """A fixed-point copy of ``network``: whole-number parameters in Loihi's formats (see the module docstring).

    Args:
        network: the network to quantize (float or fixed; its layer scales give the training units).
        scale: device units per training unit for every layer; None (default) chooses one per layer.
        fmt: the bit widths.
        direct_offset: add half a device unit to a direct-input first layer's bias (see the module docstring).

    Returns:
        A new record with ``precision='fixed'``; per-layer scales in ``layer_scales`` (``weight_scale`` is the
        last spiking layer's), or ``weight_scale=scale`` for an explicit scale.

    Raises:
        QuantizationError: one line naming the layer whose parameters do not fit, and what to do.
    """
    return quantize_with_report(network, scale, fmt, direct_offset)[0]


def quantize_with_report(network: NetworkRecord, scale: float | None = None, fmt: FixedPointFormat = LOIHI,
                         direct_offset: bool = True) -> tuple[NetworkRecord, tuple[LayerQuantization, ...]]:
    """:func:`quantize_network` plus one :class:`LayerQuantization` row per spiking layer."""
    if scale is not None and (isinstance(scale, bool) or not math.isfinite(float(scale)) or float(scale) <= 0):
        raise QuantizationError(f"scale={scale!r} must be a positive number (or None for per-layer scales)")
    layers: list[Layer] = []
    scales: list[float] = []
    rows: list[LayerQuantization] = []
    first_spiking = network.spiking_layers[0] if network.spiking_layers else -1
    for index, layer in enumerate(network.layers):
        if not layer.spiking:
            layers.append(layer)
            scales.append(0.0)
            continue
        unit = network.scale(index)
        weight = np.asarray(layer.weight) / unit
        bias = None if layer.bias is None else np.asarray(layer.bias) / unit
        neuron = layer.neuron
        readout = _is_readout(network, index, fmt)
        threshold = None if readout else neuron.vThMant / unit
        direct = direct_offset and index == first_spiking and network.input_encoding == "direct"
        offset = DIRECT_OFFSET if direct else 0.0
        if direct and bias is None:
            bias = np.zeros(layer.outFeatures if isinstance(layer, DenseLayer) else layer.shape[0])
        if scale is None:
            layer_scale, limited_by = _auto_scale(index, layer, weight, bias, threshold, offset, fmt)
        else:
            layer_scale, limited_by = float(scale), "given"
        q_weight = np.rint(weight * layer_scale)
        if scale is None:  # rounding error only: the limits keep every product inside the range
            q_weight = np.clip(q_weight, *fmt.weight_range)
        _check_range(index, layer, "weight", q_weight, *fmt.weight_range, layer_scale, fmt.weight_bits)
        q_bias = None
        if bias is not None:
            q_bias = _round_half_up(bias * layer_scale + offset)
            if scale is None:
                q_bias = np.clip(q_bias, *fmt.bias_range)
            _check_range(index, layer, "bias", q_bias, *fmt.bias_range, layer_scale, fmt.bias_bits)
        q_neuron = _quantize_neuron(index, layer, neuron, threshold, layer_scale, fmt)
        quantized = dataclasses.replace(layer, weight=q_weight, bias=q_bias, neuron=q_neuron)
        layers.append(quantized)
        scales.append(layer_scale)
        bound = _current_bound(quantized, q_weight) + (np.abs(q_bias) if q_bias is not None else 0.0)
        rows.append(LayerQuantization(
            index=index, type=layer.type, scale=layer_scale, limited_by=limited_by,
            weight_max=int(np.max(np.abs(q_weight), initial=0)),
            weight_error=float(np.max(np.abs(q_weight - weight * layer_scale), initial=0)),
            bias_error=0.0 if bias is None else float(np.max(np.abs(q_bias - bias * layer_scale))),
            threshold_error=0.0 if readout else abs(q_neuron.vThMant / (threshold * layer_scale) - 1),
            vdecay=(float(neuron.vDecay), int(q_neuron.vDecay)),
            current_max=float(np.max(bound)) / fmt.current_max, readout=readout))
    spiking_scales = [scales[i] for i in network.spiking_layers]
    try:
        fixed = dataclasses.replace(
            network, layers=tuple(layers), precision="fixed",
            weight_scale=float(scale) if scale is not None else (spiking_scales[-1] if spiking_scales else 64.0),
            layer_scales=None if scale is not None else tuple(scales))
    except NetxError as error:  # pragma: no cover - the checks above keep the record valid
        raise QuantizationError(f"the quantized network is invalid: {error}") from None
    return fixed, tuple(rows)


def _current_bound(layer: Layer, weight: np.ndarray) -> np.ndarray:
    """Per output channel: the sum of |weights| reaching one neuron (an upper bound for convT)."""
    absolute = np.abs(weight)
    if layer.type == "convT":  # IOHW
        return absolute.sum(axis=(0, 2, 3))
    return absolute.reshape(absolute.shape[0], -1).sum(axis=1)


def format_report(rows: tuple[LayerQuantization, ...]) -> str:
    """A printable table of :func:`quantize_with_report`'s rows."""
    header = ("layer", "type", "scale", "set by", "max |w|", "w err (steps)", "b err", "vth err", "vDecay",
              "I max / 2^17")
    lines = [header]
    for row in rows:
        lines.append((str(row.index), row.type, f"{row.scale:.4g}", row.limited_by, str(row.weight_max),
                      f"{row.weight_error:.3f}", f"{row.bias_error:.3f}",
                      "readout" if row.readout else f"{row.threshold_error:.2%}",
                      f"{row.vdecay[0]:g}->{row.vdecay[1]}", f"{row.current_max:.2f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)
