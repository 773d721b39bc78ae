"""VAE-sleep as Loihi runs it: each sleeping layer lowered to two learning connections in device units.

Loihi's learning engine learns one weight per synapse, so each convolution is lowered to a connection matrix
(:func:`conv_as_dense`) whose synapses learn separately, into integrate-and-fire neurons (Lava ``LIF``, no
current memory, no leak) whose spikes return to the connection as back-propagating action potentials; the
decoder mirror is a second connection in the opposite direction with the mirrored rule. The matrix of a
convolution is mostly entries that are no synapse; each synapse carries the tag ``t`` (Lava's ``tag_1``, 0 where
there is none) and every product of the rule is multiplied by it, so those entries never learn. (Lava's
``LearningSparse`` would hold only the synapses, but in lava-nc 0.10.0 it cannot evaluate a rule with ``w`` in
it: ``floating_pt`` raises "adding a nonzero scalar to a sparse array is not supported" and "matmul: dimension
mismatch", ``fixed_pt`` hangs.) After the sleep, :func:`tie_back` gives each shared convolution weight the mean
change of the synapses that share it.

Two precisions, both run by Lava (:mod:`neurovae.sleep.lava_sleep`):

* ``float`` (``floating_pt``): weights ``w 2^e`` with ``e`` such that the rule's constants fit Loihi's scales
  (:meth:`~neurovae.sleep.stdp.MirroredSTDP.lava_dw`), the thresholds likewise, so the dynamics are unchanged.
* ``fixed`` (``fixed_pt``, the chip's arithmetic): 8-bit weights ``W = w 2^k`` per layer, integer thresholds and
  the integer rule of :class:`~neurovae.sleep.fixed_point.FixedPointRule`. :func:`emulate_fixed` runs the same
  sleep bit for bit in PyTorch, fast enough for a whole sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neurovae.energy.learning import LearningCounter
from neurovae.errors import ConfigError
from neurovae.netx import CubaNeuron
from neurovae.simulate.emulator.fixedpoint import SIGN_MIXED, truncate_weights
from neurovae.simulate.emulator.neuron import FixedLIFParams, LIFState, fixed_step
from neurovae.sleep.convert import SleepLayer, layer_shapes
from neurovae.sleep.fixed_point import SYNAPSE_TAG, WEIGHT_BITS, FixedPointRule, Tags, learn, rounding_randoms
from neurovae.sleep.stdp import MirroredSTDP

PRECISIONS = ("float", "fixed")
TRACE_TAU = 1e-3  # exp(-1 / 1e-3) is 0: a trace holds only this step's impulse
THRESHOLD_MAX = 2**17 - 1  # Loihi's LIF vth: unsigned 17 bits (lava.proc.lif PyLifModelBitAcc)
DECAY_UNIT = 4096  # Loihi's decays are whole numbers of 1/4096 per step
FIXED_CURRENT_DECAY = DECAY_UNIT  # integrate-and-fire keeps no current from one step to the next


@dataclass
class Connection:
    """One learning connection in device units, as Lava's ``LearningDense`` holds it.

    Attributes:
        weights: ``[n_post, n_pre]``; zero where no synapse exists.
        tags: ``tag_1`` of every entry (nonzero where a synapse exists), or None when every entry is one.
        dw: Lava's learning rule string.
        impulses: trace impulses, ``{"x1": ..., "y1": ...}`` (time constant :data:`TRACE_TAU`).
    """

    weights: np.ndarray
    tags: np.ndarray | None
    dw: str
    impulses: dict[str, float]  # integers (1..127) in fixed point


@dataclass
class DeviceLayer:
    """A sleeping layer on the chip: forward connection (visible -> hidden), mirror (hidden -> visible), neurons.

    Attributes:
        forward: the encoder convolution, lowered.
        mirror: the decoder's transposed convolution, lowered, in the opposite direction.
        threshold: the neurons' firing threshold in device units.
        unit: ANN weight per device weight unit.
        taps: for each forward entry, the flat index of the shared convolution weight (-1: no synapse).
        shapes: CHW shapes of the visible and of the hidden neurons.
        fixed_rule: the integer rule (fixed point only).
        decay: the neurons' voltage decay: the fraction lost per step (float), of :data:`DECAY_UNIT` (fixed).
    """

    forward: Connection
    mirror: Connection
    threshold: float
    unit: float
    taps: np.ndarray
    shapes: tuple[tuple[int, ...], tuple[int, ...]]
    fixed_rule: FixedPointRule | None = None
    decay: float = 0.0


def conv_as_dense(layer: SleepLayer, input_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The layer's convolution as a dense matrix ``[n_out, n_in]`` and, per entry, the shared weight's flat index.

    The index is -1 where no synapse exists (the kernel does not reach that input from that output). Built from
    the input index each kernel tap reads at each output position (``unfold`` of the input's flat indices, the
    zero padding marking taps that read no input).
    """
    channels_out, kernel = int(layer.weight.shape[0]), tuple(int(k) for k in layer.weight.shape[-2:])
    n_in = int(np.prod(input_shape))
    reads = F.unfold(torch.arange(1, n_in + 1, dtype=torch.float64).reshape(1, *input_shape), kernel,
                     padding=layer.padding, stride=layer.stride)[0].round().long() - 1  # [C_in k k, positions]
    taps_per_out = reads.shape[0]
    positions = reads.shape[1]
    rows = torch.arange(channels_out * positions).reshape(channels_out, 1, positions).expand(-1, taps_per_out, -1)
    columns = reads.unsqueeze(0).expand(channels_out, -1, -1)
    shared = torch.arange(channels_out * taps_per_out).reshape(channels_out, taps_per_out, 1).expand(-1, -1, positions)
    real = columns >= 0
    taps = torch.full((channels_out * positions, n_in), -1, dtype=torch.int64)
    taps[rows[real], columns[real]] = shared[real]
    return spread(layer.weight, taps.numpy()), taps.numpy()


def spread(weight: torch.Tensor, taps: np.ndarray) -> np.ndarray:
    """The shared ``weight`` laid out on a lowered matrix: entry ``(o, i)`` is ``weight.flatten()[taps[o, i]]``.

    The mirror has the encoder weight's layout (``[C_out, C_in, k, k]``), so the encoder's taps place it too.
    """
    flat = weight.detach().to(torch.float64).flatten().numpy()
    return np.where(taps >= 0, flat[np.maximum(taps, 0)], 0.0)


def tie_back(weight: torch.Tensor, before: np.ndarray, after: np.ndarray, taps: np.ndarray) -> torch.Tensor:
    """``weight`` plus, for each shared entry, the mean change of the dense synapses that share it."""
    connected = taps >= 0
    change = np.zeros(weight.numel())
    count = np.zeros(weight.numel())
    np.add.at(change, taps[connected], (after - before)[connected])
    np.add.at(count, taps[connected], 1)
    mean = np.divide(change, count, out=np.zeros_like(change), where=count > 0)
    return weight + torch.from_numpy(mean).reshape(weight.shape).to(weight.dtype)


def lower(layers: list[SleepLayer], input_shape: tuple[int, ...], thresholds: list[float], rule: MirroredSTDP,
          precision: str, leak: float = 0.0) -> list[DeviceLayer]:
    """Every sleeping layer in device units for ``precision`` (``thresholds``: on the unscaled input ``W s``).

    ``leak``: the fraction of the voltage lost per step; in fixed point the nearest whole 1/4096.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    out = []
    shapes = layer_shapes(layers, input_shape)
    for layer, shape, hidden, threshold in zip(layers, shapes[:-1], shapes[1:], thresholds, strict=True):
        forward, taps = conv_as_dense(layer, shape)
        mirror = spread(layer.mirror_weight, taps)
        tagged = not (taps >= 0).all()
        if precision == "float":
            exponent = rule.lava_weight_exponent()
            unit, fixed_rule, tag = 2.0**-exponent, None, 1.0
            device_forward, device_mirror, device_threshold = forward / unit, mirror.T / unit, threshold / unit
            dws = rule.lava_dw(exponent, tagged=tagged), rule.lava_dw(exponent, feedback=True, tagged=tagged)
            impulses = {"x1": 1.0}, {"y1": 1.0}
        else:
            largest = max(float(np.abs(layer.weight).max()), float(np.abs(layer.mirror_weight).max()))
            fixed_rule, tag = FixedPointRule.for_weights(rule, largest, tagged), SYNAPSE_TAG
            unit = fixed_rule.unit
            device_forward = fixed_rule.quantize(torch.from_numpy(forward)).numpy()
            device_mirror = fixed_rule.quantize(torch.from_numpy(mirror.T)).numpy()
            device_threshold = float(max(1, round(threshold / unit)))
            if device_threshold > THRESHOLD_MAX:
                raise ConfigError(f"layer {layer.name}: its threshold is {device_threshold:.0f} weight units at "
                                  f"x 2^{fixed_rule.weight_exponent}, above Loihi's 17-bit {THRESHOLD_MAX}; "
                                  "lower the threshold or narrow the weight bounds")
            dws = fixed_rule.dw(), fixed_rule.dw(feedback=True)
            impulses = fixed_rule.impulses(), fixed_rule.impulses(feedback=True)
        tags = (taps >= 0) * tag if tagged else None
        out.append(DeviceLayer(Connection(device_forward, tags, dws[0], impulses[0]),
                               Connection(device_mirror, None if tags is None else tags.T, dws[1], impulses[1]),
                               device_threshold, unit, taps, (shape, hidden), fixed_rule,
                               leak if precision == "float" else round(leak * DECAY_UNIT)))
    return out


def apply_sleep(layers: list[SleepLayer], device: list[DeviceLayer], forward_after: list[np.ndarray],
                mirror_after: list[np.ndarray]) -> None:
    """Tie the slept device weights back onto ``layers`` (in place): a shared weight gets its synapses' mean change.

    The change is added to the float weights: in fixed point the ANN keeps what the 8-bit quantization rounded
    off (under half a weight unit per weight) and takes only the chip's change.
    """
    for layer, chip, forward, mirror in zip(layers, device, forward_after, mirror_after, strict=True):
        layer.weight = tie_back(layer.weight, chip.forward.weights * chip.unit, forward * chip.unit, chip.taps)
        layer.mirror_weight = tie_back(layer.mirror_weight, chip.mirror.weights.T * chip.unit, mirror.T * chip.unit,
                                       chip.taps)


@torch.no_grad()
def emulate_fixed(device: list[DeviceLayer], spikes: Iterable[torch.Tensor],
                  progress: Callable[[], None] = lambda: None, counter: LearningCounter | None = None,
                  ) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Lava's ``fixed_pt`` sleep of ``device`` (:func:`lower` with ``precision="fixed"``), bit for bit, in PyTorch.

    Per step and layer, as Lava's Loihi protocol orders it: the neurons integrate the input their connection
    computed in the previous step and fire; the connection computes the next input with its current weights;
    then both connections learn on this step's pre and post spikes (:func:`~neurovae.sleep.fixed_point.learn`).

    Args:
        device: the lowered layers.
        spikes: visible input spikes, step by step (each step's tensor is flattened: ``[T, n_0]`` or an iterator
            of ``[1, C, H, W]``, so that a whole sleep need not be held in memory).
        progress: called after every step.
        counter: counts the sleep's operations, if given.

    Returns:
        Forward and mirror device weights after the sleep, and each layer's mean firing rate.
    """
    if any(layer.fixed_rule is None for layer in device):
        raise ConfigError("emulate_fixed runs fixed-point layers; lower them with precision='fixed'")
    forward = [truncate_weights(layer.forward.weights, SIGN_MIXED, WEIGHT_BITS) for layer in device]
    mirror = [truncate_weights(layer.mirror.weights, SIGN_MIXED, WEIGHT_BITS) for layer in device]
    forward = [torch.from_numpy(w.T.copy()).to(torch.int64).T for w in forward]  # rows of w.T: fast input sums
    mirror = [torch.from_numpy(w).to(torch.int64) for w in mirror]
    tags = [[None if c.tags is None else Tags.of(torch.from_numpy(c.tags).to(torch.int64))
             for c in (layer.forward, layer.mirror)] for layer in device]
    rules = [(layer.fixed_rule.products(), layer.fixed_rule.products(feedback=True)) for layer in device]
    neurons = [FixedLIFParams.from_neuron(CubaNeuron(iDecay=FIXED_CURRENT_DECAY, vDecay=int(layer.decay),
                                                     vThMant=int(layer.threshold))) for layer in device]
    states = [LIFState.zeros((w.shape[0],), torch.int64) for w in forward]
    pending = [torch.zeros(w.shape[0], dtype=torch.int64) for w in forward]  # Lava's a_buff
    fired_total = torch.zeros(len(device), dtype=torch.float64)
    steps = 0
    for step_spikes, random in zip(spikes, rounding_randoms(), strict=False):  # the randoms never end
        pre, steps = step_spikes.flatten().bool(), steps + 1
        for index, layer in enumerate(device):
            before = states[index].v
            post, states[index] = fixed_step(pending[index], states[index], neurons[index])
            if counter is not None:
                visible, hidden = ((1, *shape) for shape in layer.shapes)
                counter.update(index, pre.double().reshape(visible), post.double().reshape(hidden),
                               before.reshape(hidden), states[index].v.reshape(hidden))
            pending[index] = forward[index].T[pre].sum(0)
            learn(forward[index], rules[index][0], pre, post, layer.forward.impulses, random, tags[index][0])
            learn(mirror[index], rules[index][1], post, pre, layer.mirror.impulses, random, tags[index][1])
            fired_total[index] += post.double().mean()
            pre = post
        progress()
    return ([w.contiguous().numpy() for w in forward], [w.numpy() for w in mirror],
            (fired_total / max(steps, 1)).tolist())
