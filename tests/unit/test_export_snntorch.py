"""export_netx: snnTorch networks -> netx, checked against the emulator (equal to Lava floating_pt) at every layer.

The snnTorch side runs with Lava's timing (lava_timed_forward: one step of delay per synapse); the plain snnTorch
loop is compared with the delay compensated where that is exact (no biases).
"""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snntorch_nets import (
    DenseNet,
    check_plain_loop_is_shifted,
    check_same_spikes,
    conv_net,
    for_backend,
    leaky,
    mismatches,
    spikes_in,
    synaptic_net,
)
from torch import nn

from neurovae.export import ExportError, export_stack
from neurovae.export.chain import lava_timed_forward, sequential_chain
from neurovae.export.from_snntorch import export_netx, snntorch_network
from neurovae.netx import read_netx
from neurovae.neurons import SpikingStack
from neurovae.simulate.emulator import run_emulator

NETWORKS = {"conv-bn-convT-dense": (conv_net, (2, 6, 6)), "dense-tutorial-module": (DenseNet, (12,)),
            "synaptic": (synaptic_net, (12,))}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_export_runs_as_snntorch_with_lava_timing_at_every_layer(name, tmp_path):
    make, shape = NETWORKS[name]
    net = make().double().eval()
    x = spikes_in(shape)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    export_netx(net, tmp_path / "net.net", input_shape=shape, steps=x.shape[0])
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # export leaves the model alone
    check_same_spikes(read_netx(tmp_path / "net.net"), net, x, lambda file, inputs: run_emulator(file, inputs,
                                                                                                progress=False))


def test_plain_snntorch_loop_equals_the_export_shifted_by_one_step_per_layer_without_biases(tmp_path):
    check_plain_loop_is_shifted(lambda network, inputs: run_emulator(network, inputs, progress=False), tmp_path)


def test_with_biases_the_plain_loop_is_not_the_shifted_export(tmp_path):
    net = nn.Sequential(nn.Linear(12, 10), leaky(0.75, 0.4), nn.Linear(10, 6), leaky(0.5, 0.3))  # float32
    with torch.no_grad():
        net[2].bias.fill_(0.2)
    x = spikes_in((12,)).float()
    network = export_netx(net, tmp_path / "n.net", input_shape=(12,))
    result = run_emulator(network, for_backend(x.double()), progress=False)
    with torch.no_grad():
        for neuron in (net[1], net[3]):
            neuron.reset_mem()
        plain = torch.stack([net(step) for step in x])
    assert (result.spikes[2][..., 2:] != for_backend(plain[:-2]).astype(bool)).any()  # the bias-only transient


def test_leaky_reset_delay_does_not_change_spikes_but_synaptic_reset_delay_does(tmp_path):
    x = spikes_in((12,))
    late = nn.Sequential(nn.Linear(12, 10, bias=False), leaky(0.75, 0.4, reset_delay=False)).double()
    early = nn.Sequential(nn.Linear(12, 10, bias=False), leaky(0.75, 0.4, reset_delay=True)).double()
    early[0].load_state_dict(late[0].state_dict())
    with torch.no_grad():
        assert torch.equal(lava_timed_forward(late, x)[0], lava_timed_forward(early, x)[0])
    net = synaptic_net()
    network = export_netx(net, tmp_path / "s.net", input_shape=(12,))
    net[1].reset_delay = True  # what snnTorch computes then: the input of the step after a spike is dropped
    with torch.no_grad():
        delayed = lava_timed_forward(net, x)
    result = run_emulator(network, for_backend(x), progress=False)
    assert mismatches(result, network, delayed)[1] > 0


def test_traced_chain_restores_the_neurons_hidden_state():
    net = DenseNet()
    with torch.no_grad():
        net(spikes_in((12,))[0].float())
    mem = net.lif1.mem.clone()
    assert [type(layer).__name__ for layer in sequential_chain(net, (12,))] == ["Linear", "Leaky", "Linear", "Leaky"]
    assert torch.equal(net.lif1.mem, mem)
    wrapped = nn.Sequential(nn.Sequential(nn.Linear(3, 2)), leaky(0.5, 1.0))
    assert [type(layer).__name__ for layer in sequential_chain(wrapped, (3,))] == ["Linear", "Leaky"]


def test_fixed_point_export_is_quantized(tmp_path):
    network = export_netx(conv_net(), tmp_path / "q.net", input_shape=(2, 6, 6), precision="fixed")
    assert network.precision == "fixed" and network.layer_scales is not None


class Viewed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.lif1 = leaky(0.5, 1.0)
        self.fc = nn.Linear(8, 3)
        self.lif2 = leaky(0.5, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif2(self.fc(self.lif1(self.conv(x)).view(x.shape[0], -1)))


def synaptic(**kwargs) -> snn.Synaptic:
    return snn.Synaptic(alpha=0.5, beta=0.5, reset_mechanism="zero", **kwargs)


Seq = nn.Sequential
REFUSALS = {
    "subtract reset": (lambda: Seq(nn.Linear(4, 3), snn.Leaky(beta=0.5)), (4,),
                       "layer 1 (Leaky): reset_mechanism='subtract'"),
    "no neuron at the end": (lambda: Seq(nn.Linear(4, 3), leaky(0.5, 1), nn.Linear(3, 2)), (4,),
                             "layer 2 (Linear) ends the network without a neuron"),
    "synapse into flatten": (lambda: Seq(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2), leaky(0.5, 1)), (1, 4, 4),
                             "layer 0 (Conv2d) is followed by Flatten"),
    "neuron without synapse": (lambda: Seq(leaky(0.5, 1), nn.Linear(4, 3), leaky(0.5, 1)), (4,), "layer 0 (Leaky)"),
    "per-neuron beta": (lambda: Seq(nn.Linear(4, 3), snn.Leaky(beta=torch.tensor([0.5, 0.6, 0.7]),
                                                                reset_mechanism="zero")),
                        (4,), "layer 1 (Leaky): beta differs between neurons"),
    "inhibition": (lambda: Seq(nn.Linear(4, 3), snn.Leaky(beta=0.5, reset_mechanism="zero", inhibition=True)), (4,),
                   "layer 1 (Leaky): inhibition"),
    "synaptic reset delay": (lambda: Seq(nn.Linear(4, 3, bias=False), synaptic()), (4,),
                             "layer 1 (Synaptic): with reset_delay=True"),
    "bias into a decaying current": (lambda: Seq(nn.Linear(4, 3), synaptic(reset_delay=False)), (4,),
                                     "layer 0 (Linear): a bias before a Synaptic with alpha > 0"),
    "max pooling": (lambda: Seq(nn.Conv2d(1, 2, 3), leaky(0.5, 1), nn.MaxPool2d(2)), (1, 6, 6), "layer 2 (MaxPool2d)"),
    "conv after flatten": (lambda: Seq(nn.Flatten(), nn.Conv2d(1, 2, 1), leaky(0.5, 1)), (1, 4, 4),
                           "layer 1 (Conv2d) needs a (C, H, W) input"),
    "unflattened linear": (lambda: Seq(nn.Conv2d(1, 2, 1), leaky(0.5, 1), nn.Linear(4, 3), leaky(0.5, 1)), (1, 4, 4),
                           "layer 2 (Linear) gets a (2, 4, 4) input"),
    "batch statistics": (lambda: Seq(nn.Linear(4, 3), nn.BatchNorm1d(3, track_running_stats=False), leaky(0.5, 1)),
                         (4,), "no running statistics"),
    "zero threshold": (lambda: Seq(nn.Linear(4, 3), leaky(0.5, 0.0)), (4,), "threshold must be positive"),
    "view in forward": (lambda: Viewed(), (1, 4, 4), "does not feed Leaky's output straight into Linear"),
}


@pytest.mark.filterwarnings("ignore:Inhibition is an unstable feature")
@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_what_lava_cannot_run_is_refused_in_one_line_naming_the_layer(name, tmp_path):
    make, shape, fragment = REFUSALS[name]
    with pytest.raises(ExportError) as error:
        export_netx(make(), tmp_path / "x.net", input_shape=shape)
    assert fragment in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "x.net").exists()


def test_flatten_of_a_flat_input_and_no_ops_are_skipped():
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 3), nn.Identity(), leaky(0.5, 1.0),
                        nn.Flatten(), nn.Linear(3, 2), leaky(0.5, 1.0)).eval()
    network = snntorch_network(net, (1, 4, 4))
    assert [layer.type for layer in network.layers] == ["input", "flatten", "dense", "dense"]


def test_neurovae_stack_export_points_snntorch_networks_to_export_netx():
    net = nn.Sequential(nn.Linear(4, 3), leaky(0.5, 1.0))
    with pytest.raises(ExportError, match="neurovae.export_netx"):
        export_stack(net, steps=4, input_encoding="spikes", readout="spikes")
    with pytest.raises(ExportError, match=r"layer 0 \(Linear\) cannot be exported.*neurovae.export_netx"):
        export_stack(SpikingStack((4,), *net), steps=4, input_encoding="spikes", readout="spikes")
