"""Diehl & Cook network pieces on hand-computed cases: STDP, adaptive threshold, labelling, parameter checks."""

from __future__ import annotations

import math

import pytest
import torch

from neurovae.sleep.stdp_network.dynamics import (
    ExcitatoryDynamics,
    ExcitatoryState,
    Traces,
    excitatory_step,
    normalize_incoming,
    stdp_step,
)
from neurovae.sleep.stdp_network.labels import accuracy, assign_labels, classify
from neurovae.sleep.stdp_network.network import DiehlCookNetwork
from neurovae.sleep.stdp_network.params import (
    NetworkParams,
    NeuronParams,
    Phase,
    SleepParams,
    StdpParameterError,
    StdpParams,
)
from neurovae.sleep.stdp_network.sleep import sleep

F64 = torch.float64


def test_stdp_step_matches_hand_computation() -> None:
    stdp = StdpParams(rate_pre=0.1, rate_post=0.5, tau_pre=10.0, tau_post=20.0, w_min=0.0, w_max=1.0)
    weights = torch.tensor([[[0.2, 0.5], [0.95, 0.02]]], dtype=F64)  # [copy, input, output]
    traces = Traces(pre=torch.tensor([[1.0, 0.5]], dtype=F64), post=torch.tensor([[0.4, 0.0]], dtype=F64))
    pre_spikes = torch.tensor([[0.0, 1.0]], dtype=F64)
    post_spikes = torch.tensor([[1.0, 0.0]], dtype=F64)
    new, traces = stdp_step(weights.clone(), pre_spikes, post_spikes, traces, stdp, dt=1.0)
    pre = [1.0 * math.exp(-0.1), 0.5 * math.exp(-0.1) + 1]
    post = [0.4 * math.exp(-0.05) + 1, 0.0]
    torch.testing.assert_close(traces.pre, torch.tensor([pre], dtype=F64))
    torch.testing.assert_close(traces.post, torch.tensor([post], dtype=F64))
    expected = [
        [0.2 + 0.5 * pre[0], 0.5],  # input 0 did not fire: only potentiation of the firing output 0
        [min(0.95 + 0.5 * pre[1] - 0.1 * post[0], 1.0), max(0.02 - 0.1 * post[1], 0.0)],
    ]
    torch.testing.assert_close(new, torch.tensor([expected], dtype=F64))
    assert new[0, 1, 0] == 1.0  # clipped at w_max


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_stdp_step_equals_the_dense_rule(seed: int) -> None:
    """Touching only the fired rows and columns gives the dense rule ``clip(w + dw)`` (clipped once)."""
    generator = torch.Generator().manual_seed(seed)
    stdp = StdpParams(rate_pre=0.05, rate_post=0.3, w_min=0.1, w_max=0.9)
    weights = torch.rand(3, 30, 8, generator=generator, dtype=F64)
    traces = Traces(pre=torch.rand(3, 30, generator=generator, dtype=F64),
                    post=torch.rand(3, 8, generator=generator, dtype=F64))
    pre_spikes = (torch.rand(3, 30, generator=generator) < 0.3).to(F64)
    post_spikes = (torch.rand(3, 8, generator=generator) < 0.3).to(F64)
    post_spikes[0] = 0.0  # one copy without a post spike
    new, after = stdp_step(weights.clone(), pre_spikes, post_spikes, traces, stdp, dt=1.0)
    dw = (stdp.rate_post * after.pre.unsqueeze(2) * post_spikes.unsqueeze(1)
          - stdp.rate_pre * pre_spikes.unsqueeze(2) * after.post.unsqueeze(1))
    expected = torch.where(dw != 0, (weights + dw).clamp(stdp.w_min, stdp.w_max), weights)
    torch.testing.assert_close(new, expected, rtol=0, atol=1e-15)
    assert (new == stdp.w_min).any() and (new == stdp.w_max).any()  # both bounds were reached


def test_stdp_depression_is_clipped_at_w_min() -> None:
    stdp = StdpParams(rate_pre=1.0, rate_post=0.0, w_min=0.0, w_max=1.0)
    weights = torch.full((1, 1, 1), 0.3, dtype=F64)
    traces = Traces(pre=torch.zeros(1, 1, dtype=F64), post=torch.ones(1, 1, dtype=F64))
    new, _ = stdp_step(weights, torch.ones(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64), traces, stdp, 1.0)
    assert new.item() == 0.0


def test_adaptive_threshold_spike_reset_and_refractory() -> None:
    dyn = ExcitatoryDynamics(dv=0.5, threshold=1.0, refractory_steps=2, theta_plus=0.25, theta_decay=0.5)
    state = ExcitatoryState(v=torch.tensor([0.8, 0.8], dtype=F64), refractory=torch.zeros(2, dtype=F64),
                            theta=torch.tensor([0.0, 0.4], dtype=F64))
    spikes, state = excitatory_step(torch.tensor([0.9, 0.9], dtype=F64), state, dyn)
    # v = 0.8 * 0.5 + 0.9 = 1.3: above 1.0 + 0, below 1.0 + 0.4
    assert spikes.tolist() == [1.0, 0.0]
    assert state.v.tolist() == pytest.approx([0.0, 1.3])
    assert state.theta.tolist() == pytest.approx([0.25, 0.2])  # theta * 0.5 + 0.25 * spike
    assert state.refractory.tolist() == [2.0, 0.0]
    spikes, state = excitatory_step(torch.tensor([5.0, 0.0], dtype=F64), state, dyn)
    assert spikes.tolist() == [0.0, 0.0] and state.v[0] == 0.0  # refractory: input ignored
    _, state = excitatory_step(torch.tensor([5.0, 0.0], dtype=F64), state, dyn)
    spikes, _ = excitatory_step(torch.tensor([5.0, 0.0], dtype=F64), state, dyn)
    assert spikes[0] == 1.0  # two silent steps, then it fires again


def test_normalize_incoming_sets_each_column_sum() -> None:
    weights = torch.tensor([[[1.0, 0.0], [3.0, 2.0]]], dtype=F64)
    normalize_incoming(weights, 8.0)
    torch.testing.assert_close(weights, torch.tensor([[[2.0, 0.0], [6.0, 8.0]]], dtype=F64))


def test_labels_and_classification_on_a_hand_built_case() -> None:
    # 3 neurons, 4 images of classes 0, 0, 1, 2; neuron 0 likes class 0, neuron 1 class 2, neuron 2 class 1.
    counts = torch.tensor([[[4.0, 0.0, 1.0], [2.0, 1.0, 0.0], [1.0, 0.0, 6.0], [0.0, 5.0, 2.0]]])
    labels = torch.tensor([0, 0, 1, 2])
    neuron_labels = assign_labels(counts, labels, num_classes=3)
    assert neuron_labels.tolist() == [[0, 2, 1]]
    test_counts = torch.tensor([[[0.0, 3.0, 1.0], [5.0, 0.0, 4.0], [0.0, 0.0, 9.0]]])
    predictions = classify(test_counts, neuron_labels, num_classes=3)
    assert predictions.tolist() == [[2, 0, 1]]
    assert accuracy(predictions, torch.tensor([2, 1, 1])).tolist() == [pytest.approx(2 / 3)]


def test_a_class_without_neurons_is_never_predicted() -> None:
    predictions = classify(torch.tensor([[[0.0, 0.0]]]), torch.tensor([[3, 3]]), num_classes=4)
    assert predictions.tolist() == [[3]]


@pytest.mark.parametrize("make, words", [
    (lambda: StdpParams(rate_pre=-1e-4), "rate_pre must be >= 0"),
    (lambda: StdpParams(w_min=1.0, w_max=0.5), "w_min < w_max"),
    (lambda: StdpParams(w_min=1.0, w_max=1.0), "w_min < w_max"),
    (lambda: SleepParams(max_rate=-5.0), "max_rate must be a positive"),
    (lambda: SleepParams(leak_scale=0.0), "SleepParams.leak_scale must be a positive"),
    (lambda: SleepParams(theta_tau=0.0), "SleepParams.theta_tau must be a positive"),
    (lambda: SleepParams(duration=float("nan")), "duration must be a positive"),
    (lambda: NeuronParams(tau_exc=-100.0), "tau_exc must be a positive"),
    (lambda: NetworkParams(n_neurons=0), "n_neurons > 0"),
])
def test_parameters_out_of_sense_are_refused_in_one_line(make, words) -> None:
    with pytest.raises(StdpParameterError, match=words) as info:
        make()
    assert "\n" not in str(info.value)


def _tiny_network(copies: int = 1) -> DiehlCookNetwork:
    params = NetworkParams(n_input=6, n_neurons=3, neuron=NeuronParams(threshold_exc=0.5))
    return DiehlCookNetwork.create(params, copies, [torch.Generator().manual_seed(i) for i in range(copies)], F64)


def test_learning_refuses_several_images_per_copy() -> None:
    network = _tiny_network()
    with pytest.raises(StdpParameterError, match="one image per network copy"):
        network.present(lambda _step: torch.ones(1, 2, 6, dtype=F64), 3, Phase(learn=True))


def test_copies_are_independent_networks() -> None:
    both = _tiny_network(copies=2)
    alone = DiehlCookNetwork(both.params, both.weights[1:].clone(), both.theta[1:].clone())
    spikes = torch.bernoulli(torch.full((20, 2, 1, 6), 0.5, dtype=F64), generator=torch.Generator().manual_seed(3))
    both.present(lambda step: spikes[step], 20, Phase(learn=True))
    alone.present(lambda step: spikes[step][1:], 20, Phase(learn=True))
    torch.testing.assert_close(both.weights[1:], alone.weights)
    torch.testing.assert_close(both.theta[1:], alone.theta)


def test_sleep_raises_thresholds_and_checks_the_mean_image() -> None:
    network = _tiny_network()
    before = network.theta.clone()
    counts = sleep(network, torch.full((6,), 0.8, dtype=F64), SleepParams(duration=300.0, max_rate=200.0),
                   torch.Generator().manual_seed(0))
    assert counts.sum() > 0 and (network.theta > before).any()
    with pytest.raises(StdpParameterError, match="6 pixels"):
        sleep(network, torch.zeros(5, dtype=F64), SleepParams(), torch.Generator())


@pytest.mark.parametrize("theta_tau", [None, 100.0])
def test_sleep_decays_silent_thresholds_with_its_own_time_constant(theta_tau) -> None:
    network = _tiny_network()
    network.theta.fill_(1.0)
    sleep(network, torch.zeros(6, dtype=F64), SleepParams(duration=100.0, theta_tau=theta_tau),
          torch.Generator().manual_seed(0))  # no input: nothing fires, thresholds only decay
    tau = theta_tau or network.params.neuron.tau_theta
    torch.testing.assert_close(network.theta, torch.full_like(network.theta, math.exp(-100.0 / tau)))
