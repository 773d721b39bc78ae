"""The demo's short sleep on Lava's learning engine: a Tadros sleep phase on LearningDense equals PyTorch's."""

import dataclasses

import numpy as np
import pytest

from neurovae.sleep.stdp_network import NetworkParams, SleepParams, StdpParameterError
from neurovae.sleep.stdp_network.params import MNIST_SLEEP

pytest.importorskip("lava.proc.dense.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")
from neurovae.sleep.stdp_network.lava.network import sleep_on_lava  # noqa: E402


@pytest.mark.parametrize("sleep", [SleepParams(ampa_scale=4.0),
                                   dataclasses.replace(MNIST_SLEEP, ampa_scale=4.0, theta_tau=20.0)],
                         ids=["default", "mnist-setting-fast-decay"])
def test_a_short_sleep_on_lava_moves_the_weights_as_pytorch_does(sleep):
    mean_image = np.random.default_rng(0).uniform(0.2, 1.0, 784)
    check = sleep_on_lava(NetworkParams(n_neurons=10), sleep, mean_image, steps=40)
    assert check["spikes_equal"] and check["excitatory_spikes"] > 0
    assert check["max_weight_change"] > 1e-3 and check["max_weight_difference"] < 1e-12
    assert check["max_theta_difference"] < 1e-12


def test_a_sleep_needs_steps():
    with pytest.raises(StdpParameterError, match="at least one step"):
        sleep_on_lava(NetworkParams(n_neurons=10), SleepParams(), np.zeros(784), steps=0)
