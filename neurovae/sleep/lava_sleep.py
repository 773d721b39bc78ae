"""VAE-sleep on Lava's learning engine: ``LearningDense`` + ``Loihi2FLearningRule`` in Loihi2SimCfg on the CPU.

Each sleeping layer becomes a forward ``LearningDense`` (visible -> hidden) into integrate-and-fire ``LIF``
neurons (``du = 1``, ``dv = 0``, ``vth`` = the effective threshold), whose spikes return through ``s_in_bap``; its
decoder mirror is a second ``LearningDense`` (hidden -> visible) whose ``s_in_bap`` receives the visible spikes,
with the mirrored ``dw`` string (:meth:`MirroredSTDP.lava_dw`), so both move on the same spike pairs. A one-step
pre/post trace (impulse 1, time constant 1e-3: it decays to exactly 0 in one step) tells whether the other side
fired in the same step. Weights are stored as ``w * 2^e`` so that the rule's constants fit Loihi's scales; the
thresholds carry the same factor, so the dynamics are unchanged.

Convolutions are lowered to dense connections (:func:`conv_as_dense`). Lava then learns every position's synapse
separately; :func:`tie_back` makes them one weight again by adding, to each shared weight, the mean change of
the synapses that share it (the same average :func:`neurovae.sleep.stdp.conv_pairs` takes each step, so one step
matches the batched sleep exactly and longer runs differ only by the positions' diverging stabilizers).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neurovae.lava_runtime import require_lava
from neurovae.sleep.convert import SleepLayer
from neurovae.sleep.stdp import MirroredSTDP

TRACE_TAU = 1e-3  # exp(-1 / 1e-3) underflows to 0: the trace holds only this step's spike


def conv_as_dense(layer: SleepLayer, input_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The layer's convolution as a dense matrix ``[n_out, n_in]`` and, per entry, the shared weight's flat index.

    The index is -1 where no synapse exists (the kernel does not reach that input from that output).
    """
    n_in = int(np.prod(input_shape))
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *input_shape)

    def lowered(weight: torch.Tensor) -> np.ndarray:
        out = F.conv2d(basis, weight.to(torch.float64), stride=layer.stride, padding=layer.padding)
        return out.reshape(n_in, -1).T.numpy()

    taps = torch.arange(1, layer.weight.numel() + 1, dtype=torch.float64).reshape(layer.weight.shape)
    return lowered(layer.weight), lowered(taps).round().astype(np.int64) - 1


def tie_back(weight: torch.Tensor, before: np.ndarray, after: np.ndarray, taps: np.ndarray) -> torch.Tensor:
    """``weight`` plus, for each shared entry, the mean change of the dense synapses that share it."""
    connected = taps >= 0
    change = np.zeros(weight.numel())
    count = np.zeros(weight.numel())
    np.add.at(change, taps[connected], (after - before)[connected])
    np.add.at(count, taps[connected], 1)
    mean = np.divide(change, count, out=np.zeros_like(change), where=count > 0)
    return weight + torch.from_numpy(mean).reshape(weight.shape).to(weight.dtype)


def _rule(rule: MirroredSTDP, exponent: int, feedback: bool):
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule

    trace = {"y1_impulse": 1, "y1_tau": TRACE_TAU} if feedback else {"x1_impulse": 1, "x1_tau": TRACE_TAU}
    return Loihi2FLearningRule(dw=rule.lava_dw(exponent, feedback=feedback), t_epoch=1, **trace)


def run_lava_sleep(forward: list[np.ndarray], mirrors: list[np.ndarray], spikes: np.ndarray,
                   thresholds: list[float], rule: MirroredSTDP) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sleep a chain of dense layers on Lava (``floating_pt``); returns the final forward and mirror weights.

    Args:
        forward: forward weights ``[n_l, n_{l-1}]`` per layer.
        mirrors: mirror weights ``[n_{l-1}, n_l]`` per layer (the decoder's, transposed connectivity).
        spikes: visible input spikes ``[T, n_0]`` (0/1).
        thresholds: effective threshold per layer (on the unscaled input ``W s``).
        rule: the mirrored STDP rule.
    """
    require_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import LearningDense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    exponent = rule.lava_weight_exponent()
    unit = 2.0**exponent
    source = RingBuffer(data=spikes.T.astype(float))
    visible, fwd_procs, mirror_procs = source.s_out, [], []
    for weights, mirror, threshold in zip(forward, mirrors, thresholds, strict=True):
        dense = LearningDense(weights=weights * unit, learning_rule=_rule(rule, exponent, feedback=False))
        neurons = LIF(shape=(weights.shape[0],), du=1, dv=0, vth=threshold * unit, bias_mant=0)
        back = LearningDense(weights=mirror * unit, learning_rule=_rule(rule, exponent, feedback=True))
        visible.connect(dense.s_in)
        dense.a_out.connect(neurons.a_in)
        neurons.s_out.connect(dense.s_in_bap)
        neurons.s_out.connect(back.s_in)
        visible.connect(back.s_in_bap)
        fwd_procs.append(dense)
        mirror_procs.append(back)
        visible = neurons.s_out
    source.run(condition=RunSteps(num_steps=len(spikes)), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
    try:
        return ([p.weights.get() / unit for p in fwd_procs], [p.weights.get() / unit for p in mirror_procs])
    finally:
        source.stop()
