"""snnTorch network -> NIR (snnTorch's own exporter) -> neurovae -> Lava: the same spikes as snnTorch, every layer.

snnTorch runs with Lava's timing (lava_timed_forward: one step of delay per synapse, see neurovae.export.chain);
the float32 model is run in float64, as Lava floating_pt runs the file. Fixed point: the quantized network runs
bit for bit alike in Lava fixed_pt and the emulator.
"""

from __future__ import annotations

import numpy as np
import pytest
from snntorch_nets import check_through_nir, for_backend, nir_conv_net, snntorch_graph, spikes_in

from neurovae.export import quantize_network
from neurovae.export.from_nir import nir_to_netx
from neurovae.simulate.emulator import run_emulator

pytest.importorskip("lava", reason="Lava (lava-nc) is not installed")
pytest.importorskip("snntorch.export_nir", reason="snnTorch's NIR support needs nir and nirtorch")

from neurovae.simulate import run_lava  # noqa: E402


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["conv-flatten-dense", "synaptic"])
def test_snntorch_through_nir_runs_in_lava_float_as_in_snntorch(name, tmp_path):
    check_through_nir(name, lambda network, inputs: run_lava(network, inputs, progress=False), tmp_path)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_snntorch_through_nir_in_fixed_point_runs_alike_in_lava_and_the_emulator(tmp_path):
    network = quantize_network(nir_to_netx(snntorch_graph(nir_conv_net(), (2, 6, 6), tmp_path / "net.nir")))
    inputs = for_backend(spikes_in((2, 6, 6), seed=1))
    lava = run_lava(network, inputs, precision="fixed", progress=False)
    emulated = run_emulator(network, inputs, precision="fixed", progress=False)
    for index in network.spiking_layers:
        np.testing.assert_array_equal(lava.spikes[index], emulated.spikes[index])
        assert int(lava.spikes[index].sum()) > 0
