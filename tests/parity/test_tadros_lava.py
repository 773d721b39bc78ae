"""Lava vs PyTorch for the Diehl & Cook network: same input spikes -> same spikes, weights and thresholds.

A tiny network (12 inputs, 4 excitatory neurons) runs for a short stretch on Lava's CPU backend (floating
point: LearningDense with the STDP dw string, AdaptiveLIF, LIF inhibition) and in PyTorch (float64).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed")

from neurovae.sleep.stdp_network.lava.network import run_on_lava, run_torch_reference  # noqa: E402
from neurovae.sleep.stdp_network.params import (  # noqa: E402
    NetworkParams,
    NeuronParams,
    Phase,  # noqa: E402
    StdpParams,
    SynapseParams,
)

STEPS = 60
TINY = NetworkParams(n_input=12, n_neurons=4,
                     neuron=NeuronParams(threshold_exc=1.5, refractory_exc=3.0, theta_plus=0.3, tau_theta=500.0),
                     synapse=SynapseParams(inh_to_exc=1.0), stdp=StdpParams(rate_pre=0.01, rate_post=0.01))
"""Low threshold and weak inhibition so that every neuron fires, and rates at which STDP both potentiates and
depresses (some weights reach the lower bound 0)."""


def _case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.0, 0.4, (TINY.n_input, TINY.n_neurons))
    theta = rng.uniform(0.0, 0.3, TINY.n_neurons)
    spikes = (rng.random((STEPS, TINY.n_input)) < 0.25).astype(float)
    return weights, theta, spikes


@pytest.mark.parametrize("phase", [Phase(learn=True), Phase(learn=True, ampa_scale=1.5, leak_scale=2.0,
                                                                      inhibition_scale=0.5, theta_tau=30.0)],
                         ids=["wake", "sleep"])
def test_lava_and_torch_change_the_weights_identically(phase: Phase) -> None:
    weights, theta, spikes = _case(0)
    lava = run_on_lava(TINY, weights, theta, spikes, phase)
    torch_run = run_torch_reference(TINY, weights, theta, spikes, phase)
    np.testing.assert_array_equal(lava.spikes, torch_run.spikes)
    assert lava.spikes.sum() >= 5 and len(np.unique(lava.spikes.nonzero()[1])) >= 2
    change = lava.weights - weights
    assert change.min() < -1e-3 and change.max() > 1e-3  # STDP both depressed and potentiated
    assert (lava.weights == 0).any()  # and the lower bound was reached
    np.testing.assert_allclose(lava.weights, torch_run.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(lava.theta, torch_run.theta, rtol=0, atol=1e-12)
    assert (lava.theta > theta).any()


def test_frozen_network_keeps_weights_on_both() -> None:
    weights, theta, spikes = _case(1)
    frozen = Phase(learn=False)
    lava = run_on_lava(TINY, weights, theta, spikes, frozen)
    torch_run = run_torch_reference(TINY, weights, theta, spikes, frozen)
    np.testing.assert_array_equal(lava.spikes, torch_run.spikes)
    np.testing.assert_array_equal(lava.weights, weights)
    np.testing.assert_array_equal(lava.theta, theta)
