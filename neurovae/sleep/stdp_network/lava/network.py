"""Build and run the Diehl & Cook network on Lava: LearningDense with the STDP rule, LIF inhibition.

Input spikes come from a ``RingBuffer``; the input -> excitatory synapses are a ``LearningDense`` whose
``Loihi2FLearningRule`` implements :func:`~neurovae.sleep.stdp_network.dynamics.stdp_step` through its
traces: the pre trace ``x1`` jumps by ``rate_post`` and the post trace ``y1`` (fed by the excitatory spikes on
``s_in_bap``) by ``rate_pre``, so ``dw = y0 * x1 - x0 * y1``. The excitatory layer is :class:`AdaptiveLIF`,
the inhibitory layer Lava's ``LIF`` with ``du = 1``. Lava clips learned weights at 0 (sign mode set to
excitatory; Lava's default is mixed, unbounded) but has no upper bound: runs must keep weights below
``w_max`` to match the PyTorch network exactly.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from neurovae.lava_runtime import require_lava
from neurovae.sleep.stdp_network.dynamics import ExcitatoryDynamics
from neurovae.sleep.stdp_network.params import NetworkParams, Phase, SleepParams, StdpParameterError

STDP_DW = "y0 * x1 - x0 * y1"
"""Pair STDP as a Loihi sum of products: potentiation at post spikes, depression at pre spikes."""


@dataclasses.dataclass(frozen=True)
class LavaRunResult:
    """What a Lava run leaves: weights ``[n_input, n_neurons]``, thresholds and excitatory spikes ``[T, n]``."""

    weights: np.ndarray
    theta: np.ndarray
    spikes: np.ndarray


def run_on_lava(params: NetworkParams, weights: np.ndarray, theta: np.ndarray, input_spikes: np.ndarray,
                phase: Phase) -> LavaRunResult:
    """Run one network (weights ``[n_input, n]``) on Lava's CPU backend in floating point for ``T`` steps.

    ``input_spikes`` is ``[T, n_input]`` (0/1); with ``phase.learn`` the weights follow STDP and the
    thresholds adapt, as :meth:`DiehlCookNetwork.present` does.
    """
    require_lava()
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense, LearningDense
    from lava.proc.io.sink import RingBuffer as SpikeSink
    from lava.proc.io.source import RingBuffer as SpikeSource
    from lava.proc.lif.process import LIF
    from lava.utils.weightutils import SignMode

    from neurovae.sleep.stdp_network.lava import models  # noqa: F401  (registers the AdaptiveLIF model)
    from neurovae.sleep.stdp_network.lava.process import AdaptiveLIF

    steps, n_input = input_spikes.shape
    n = params.n_neurons
    if weights.shape != (n_input, n) or n_input != params.n_input or theta.shape != (n,):
        raise StdpParameterError(f"weights {weights.shape}, theta {theta.shape} and input {input_spikes.shape} "
                                 f"do not fit a {params.n_input} -> {n} network")
    neuron, synapse, stdp = params.neuron, params.synapse, params.stdp
    if stdp.w_min != 0:
        raise StdpParameterError("Lava's learning engine bounds weights at 0 only: use w_min = 0 on Lava")
    dyn = ExcitatoryDynamics.from_params(neuron, phase)
    source = SpikeSource(data=input_spikes.T.astype(float))
    rule = Loihi2FLearningRule(dw=STDP_DW, x1_impulse=stdp.rate_post, x1_tau=stdp.tau_pre / neuron.dt,
                               y1_impulse=stdp.rate_pre, y1_tau=stdp.tau_post / neuron.dt, t_epoch=1)
    plastic = (LearningDense(weights=weights.T.copy(), learning_rule=rule, sign_mode=SignMode.EXCITATORY)
               if phase.learn
               else Dense(weights=weights.T.copy()))
    excitatory = AdaptiveLIF(shape=(n,), dv=dyn.dv, threshold=dyn.threshold, refractory_steps=dyn.refractory_steps,
                             theta_plus=dyn.theta_plus, theta_decay=dyn.theta_decay, ampa_scale=phase.ampa_scale,
                             theta=theta)
    inhibitory = LIF(shape=(n,), du=1.0, dv=1.0 - math.exp(-neuron.dt / neuron.tau_inh),
                     vth=neuron.threshold_inh, bias_mant=0.0)
    to_inhibitory = Dense(weights=synapse.exc_to_inh * np.eye(n))
    lateral = Dense(weights=-synapse.inh_to_exc * phase.inhibition_scale * (np.ones((n, n)) - np.eye(n)))
    sink = SpikeSink(shape=(n,), buffer=steps)

    source.s_out.connect(plastic.s_in)
    plastic.a_out.connect(excitatory.a_in)
    excitatory.s_out.connect(to_inhibitory.s_in)
    to_inhibitory.a_out.connect(inhibitory.a_in)
    inhibitory.s_out.connect(lateral.s_in)
    lateral.a_out.connect(excitatory.a_inh)
    excitatory.s_out.connect(sink.a_in)
    if phase.learn:
        excitatory.s_out.connect(plastic.s_in_bap)

    excitatory.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
    try:
        result = LavaRunResult(weights=plastic.weights.get().T.copy(), theta=excitatory.theta.get().copy(),
                               spikes=sink.data.get().T.copy())
    finally:
        excitatory.stop()
    return result


def run_torch_reference(params: NetworkParams, weights: np.ndarray, theta: np.ndarray, input_spikes: np.ndarray,
                        phase: Phase) -> LavaRunResult:
    """The same run with :class:`DiehlCookNetwork` in float64, recording the excitatory spikes per step."""
    from neurovae.sleep.stdp_network.network import DiehlCookNetwork

    network = DiehlCookNetwork(params=params, weights=torch.from_numpy(weights.astype(np.float64)).unsqueeze(0).clone(),
                               theta=torch.from_numpy(theta.astype(np.float64)).unsqueeze(0).clone())
    spikes = torch.from_numpy(input_spikes.astype(np.float64))
    recorded = network.present(lambda step: spikes[step].view(1, 1, -1), len(spikes), phase, record=True)
    return LavaRunResult(weights=network.weights[0].numpy(), theta=network.theta[0].numpy(),
                         spikes=recorded[:, 0, 0].numpy())


def compare_lava_and_torch(params: NetworkParams, weights: np.ndarray, theta: np.ndarray, input_spikes: np.ndarray,
                           phase: Phase) -> dict[str, float | bool | int]:
    """Run both and report agreement: equal spike trains, largest weight and threshold differences, Lava's time."""
    import time

    started = time.monotonic()
    lava = run_on_lava(params, weights, theta, input_spikes, phase)
    lava_seconds = time.monotonic() - started
    reference = run_torch_reference(params, weights, theta, input_spikes, phase)
    return {"steps": len(input_spikes), "synapses": int(weights.size), "lava_seconds": lava_seconds,
            "spikes_equal": bool(np.array_equal(lava.spikes, reference.spikes)),
            "excitatory_spikes": int(lava.spikes.sum()),
            "max_weight_difference": float(np.abs(lava.weights - reference.weights).max()),
            "max_theta_difference": float(np.abs(lava.theta - reference.theta).max()),
            "max_weight_change": float(np.abs(lava.weights - weights).max())}


def sleep_on_lava(params: NetworkParams, sleep_params: SleepParams, mean_image: np.ndarray, steps: int,
                  seed: int = 0) -> dict[str, float | bool | int]:
    """A short sleep phase on Lava's learning engine, checked against PyTorch (see :func:`compare_lava_and_torch`).

    A freshly initialized network sleeps for ``steps`` steps on Poisson input from ``mean_image`` (``[n_input]`` in
    [0, 1]) with the sleep's leak, AMPA and inhibition scaling; same spikes in, same weights out is the check.
    """
    from neurovae.sleep.stdp_network.network import DiehlCookNetwork

    if steps < 1:
        raise StdpParameterError(f"a sleep on Lava needs at least one step, got {steps}")
    probability = np.clip(mean_image.reshape(-1) * sleep_params.max_rate * params.neuron.dt / 1000.0, 0.0, 1.0)
    spikes = (np.random.default_rng(seed).random((steps, probability.size)) < probability).astype(np.float64)
    network = DiehlCookNetwork.create(params, 1, [torch.Generator().manual_seed(seed)], torch.float64)
    return compare_lava_and_torch(params, network.weights[0].numpy(), network.theta[0].numpy(), spikes,
                                  sleep_params.phase())
