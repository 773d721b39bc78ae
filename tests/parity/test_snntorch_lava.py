"""snnTorch networks exported with export_netx run in Lava spike for spike as in snnTorch, at every layer and step.

snnTorch runs with Lava's timing (lava_timed_forward: each synapse sees the previous step's spikes); for a network
without biases the plain snnTorch loop is compared too, layer k's Lava spikes at step t + k with snnTorch's at t.
Fixed point: Lava fixed_pt and the emulator agree bit for bit on the quantized export.
"""

from __future__ import annotations

import numpy as np
import pytest
from snntorch_nets import (
    check_plain_loop_is_shifted,
    check_same_spikes,
    conv_net,
    for_backend,
    spikes_in,
    synaptic_net,
)

from neurovae.export.from_snntorch import export_netx
from neurovae.simulate.emulator import run_emulator

pytest.importorskip("lava", reason="Lava (lava-nc) is not installed")

from neurovae.simulate import run_lava  # noqa: E402

NETWORKS = {"conv-bn-convT-dense": (conv_net, (2, 6, 6)), "synaptic": (synaptic_net, (12,))}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_lava_float_equals_snntorch_with_lava_timing(name, tmp_path):
    make, shape = NETWORKS[name]
    net = make()
    network = export_netx(net, tmp_path / "net.net", input_shape=shape)
    check_same_spikes(network, net, spikes_in(shape), lambda _, inputs: run_lava(tmp_path / "net.net", inputs,
                                                                                   progress=False))


def test_lava_float_equals_the_plain_snntorch_loop_delayed_one_step_per_layer(tmp_path):
    check_plain_loop_is_shifted(lambda network, inputs: run_lava(network, inputs, progress=False), tmp_path)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_fixed_point_export_runs_identically_in_lava_and_the_emulator(name, tmp_path):
    make, shape = NETWORKS[name]
    network = export_netx(make(), tmp_path / "q.net", input_shape=shape, precision="fixed")
    inputs = for_backend(spikes_in(shape, seed=1))
    lava = run_lava(network, inputs, precision="fixed", record_voltage=True, progress=False)
    emulated = run_emulator(network, inputs, precision="fixed", record_voltage=True, progress=False)
    for index in network.spiking_layers:
        np.testing.assert_array_equal(lava.spikes[index], emulated.spikes[index])
        np.testing.assert_array_equal(lava.voltages[index], emulated.voltages[index])
    assert all(int(lava.spikes[index].sum()) > 0 for index in network.spiking_layers)
