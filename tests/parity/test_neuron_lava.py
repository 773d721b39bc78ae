"""snnTorch LIF layers (neurovae.neurons) against Lava's own LIF process, floating point, step for step.

The chain ``RingBuffer source -> Dense -> LIF -> Dense -> LIF`` is built from Lava's processes directly
(no neurovae simulation code involved) and compared with two :class:`SpikingBlock` s in PyTorch.
"""

import numpy as np
import pytest
import torch
from torch import nn

from neurovae.neurons import LIF, LIFParams, SpikingBlock, SpikingStack

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")


def run_lava_chain(
    input_spikes: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray, LIFParams]]
) -> list[np.ndarray]:
    """Spikes ``[neurons, T]`` of each LIF layer of a Lava Dense/LIF chain, floating point."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF as LavaLIF

    steps = input_spikes.shape[-1]
    source = Source(data=input_spikes)
    port, sinks = source.s_out, []
    for weight, bias, params in layers:
        dense = Dense(weights=weight)
        lif = LavaLIF(shape=(weight.shape[0],), du=1.0, dv=1.0 - params.beta, vth=params.threshold, bias_mant=bias)
        sink = Sink(shape=(weight.shape[0],), buffer=steps)
        port.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        lif.s_out.connect(sink.a_in)
        port, sinks = lif.s_out, [*sinks, sink]
    source.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
    try:
        return [sink.data.get().copy() for sink in sinks]
    finally:
        source.stop()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snntorch_lif_layers_equal_lava_lif_spike_for_spike(seed):
    rng = np.random.default_rng(seed)
    steps, sizes = 40, (30, 24, 16)
    params = [LIFParams(beta=0.25, threshold=0.2), LIFParams(beta=0.9, threshold=0.5)]
    layers = []
    for (n_in, n_out), p in zip(zip(sizes[:-1], sizes[1:], strict=True), params, strict=True):
        weight = rng.normal(0.0, 0.25, size=(n_out, n_in))
        bias = rng.normal(0.0, 0.05, size=n_out)
        layers.append((weight, bias, p))
    input_spikes = (rng.random((sizes[0], steps)) < 0.3).astype(float)

    lava_spikes = run_lava_chain(input_spikes, layers)

    blocks = []
    for weight, bias, p in layers:
        linear = nn.Linear(weight.shape[1], weight.shape[0]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
        blocks.append(SpikingBlock(linear, LIF(p)))
    stack = SpikingStack((sizes[0],), *blocks)
    with torch.no_grad():
        torch_spikes = stack.run(torch.from_numpy(input_spikes.T).unsqueeze(1))  # [T, 1, n]

    total = 0
    for layer, (lava, torch_out) in enumerate(zip(lava_spikes, torch_spikes, strict=True)):
        ours = torch_out[:, 0].numpy().T  # [n, T]
        mismatches = int((ours != lava).sum())
        assert mismatches == 0, f"layer {layer}: {mismatches} spike mismatches between snnTorch and Lava"
        total += int(lava.sum())
    assert total > 50, "the test network should spike"
