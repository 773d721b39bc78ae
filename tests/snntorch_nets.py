"""Small snnTorch networks and helpers shared by the snnTorch and NIR export tests (unit and parity)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
from torch import nn

STEPS, SAMPLES = 10, 3


def leaky(beta: float, threshold: float, shape: tuple[int, ...] = (), **kwargs) -> snn.Leaky:
    """A zero-reset Leaky; ``shape`` gives per-neuron (equal) parameters, as snnTorch's NIR exporter needs."""
    kwargs.setdefault("init_hidden", True)
    return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.full(shape, threshold), reset_mechanism="zero",
                     **kwargs)


def conv_net() -> nn.Sequential:
    """conv -> BN -> leaky -> convT -> leaky -> flatten -> linear -> leaky, input (2, 6, 6)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), leaky(0.75, 0.5),
        nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), leaky(0.5, 0.4),
        nn.Flatten(), nn.Linear(108, 6), leaky(0.875, 0.3))
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.3, 0.3)
        net[1].running_var.uniform_(0.5, 2.0)
        net[6].weight.mul_(3.0)
    return net.double().eval()


def nir_conv_net() -> nn.Sequential:
    """conv -> leaky -> flatten -> linear -> leaky with per-neuron parameters (what snnTorch's exporter can write)."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), leaky(0.9, 0.5, (4, 3, 3)), nn.Flatten(),
                        nn.Linear(36, 6), leaky(0.75, 0.25, (6,)))
    with torch.no_grad():
        net[0].weight.mul_(2.0)
        net[3].weight.mul_(3.0)
    return net.double().eval()


class DenseNet(nn.Module):
    """snnTorch's tutorial style: state passed by hand and a time loop inside forward; no biases."""

    def __init__(self, steps: int = 4) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.steps = steps
        self.fc1 = nn.Linear(12, 10, bias=False)
        self.lif1 = snn.Leaky(beta=0.75, threshold=0.4, reset_mechanism="zero")
        self.fc2 = nn.Linear(10, 6, bias=False)
        self.lif2 = snn.Leaky(beta=0.5, threshold=0.3, reset_mechanism="zero", reset_delay=False)
        with torch.no_grad():
            self.fc1.weight.mul_(2.5)
            self.fc2.weight.mul_(3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2, out = self.lif1.init_leaky(), self.lif2.init_leaky(), []
        for _ in range(self.steps):
            spk1, mem1 = self.lif1(self.fc1(x), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def plain_loop(net: DenseNet, x: torch.Tensor) -> list[torch.Tensor]:
    """Both layers' spikes ``[T, N, 10]``, ``[T, N, 6]``: the user's own snnTorch loop over ``x``, no delays."""
    net.lif1.reset_mem()
    net.lif2.reset_mem()
    spikes: list[list[torch.Tensor]] = [[], []]
    with torch.no_grad():
        for step in x:
            spk1, _ = net.lif1(net.fc1(step))
            spk2, _ = net.lif2(net.fc2(spk1.to(step.dtype)))
            spikes[0].append(spk1)
            spikes[1].append(spk2)
    return [torch.stack(layer) for layer in spikes]


def check_plain_loop_is_shifted(run: Callable[[object, np.ndarray], object], folder: Path) -> None:
    """The user's plain loop over a bias-free network equals the export's layer k at step t + k, on ``run``'s backend.

    ``run(network, inputs)`` runs the netx record (the emulator, or Lava floating_pt).
    """
    from neurovae.export.from_snntorch import export_netx

    net = DenseNet(steps=1).double()
    x = spikes_in((12,))
    network = export_netx(net, folder / "dense.net", input_shape=(12,))
    result = run(network, for_backend(torch.cat([x, torch.zeros_like(x[:2])])))  # + the latency of two layers
    for k, (index, spikes) in enumerate(zip(network.spiking_layers, plain_loop(net, x), strict=True), start=1):
        np.testing.assert_array_equal(result.spikes[index][..., k:k + x.shape[0]], for_backend(spikes).astype(bool))
        assert not result.spikes[index][..., :k].any()  # layer k rests until the input reaches it
        assert int(spikes.sum()) > 0


def synaptic_net(shaped: bool = False) -> nn.Sequential:
    """linear (no bias) -> Synaptic(alpha 0.5) -> linear -> leaky, input (12,)."""
    torch.manual_seed(3)
    shape = (10,) if shaped else ()
    net = nn.Sequential(
        nn.Linear(12, 10, bias=False),
        snn.Synaptic(alpha=torch.full(shape, 0.5), beta=torch.full(shape, 0.75), threshold=torch.full(shape, 0.6),
                     reset_mechanism="zero", reset_delay=False, init_hidden=True),
        nn.Linear(10, 6), leaky(0.5, 0.3, (6,) if shaped else ()))
    with torch.no_grad():
        net[0].weight.mul_(1.5)
        net[2].weight.mul_(2.0)
    return net.double().eval()


def snntorch_graph(net: nn.Module, shape: tuple[int, ...], path: Path) -> object:
    """The float32 copy of ``net`` as snnTorch's exporter writes it, written to ``path`` and read back."""
    import nir
    from snntorch.export_nir import export_to_nir

    from neurovae.export.from_nir import read_nir

    nir.write(path, export_to_nir(copy.deepcopy(net).float(), torch.zeros((1, *shape)), ignore_dims=[0]))
    return read_nir(path)


def spikes_in(shape: tuple[int, ...], seed: int = 0, rate: float = 0.4) -> torch.Tensor:
    """Random 0/1 input ``[T, N, *shape]`` in float64."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand((STEPS, SAMPLES, *shape), generator=generator, dtype=torch.float64) < rate).double()


def for_backend(x: torch.Tensor) -> np.ndarray:
    """``[T, N, ...]`` -> the backends' ``[N, ..., T]``."""
    return np.moveaxis(x.numpy(), 0, -1)


def check_same_spikes(network, net: nn.Module, x: torch.Tensor, run: Callable[[object, np.ndarray], object]) -> None:
    """``run(network, inputs)`` (a backend) gives snnTorch's spikes with Lava's timing, at every layer and step.

    ``net`` is run in float64, as Lava floating_pt and the emulator run the file; every layer must fire.
    """
    from neurovae.export.chain import lava_timed_forward

    with torch.no_grad():
        expected = lava_timed_forward(net.double(), x)
    assert mismatches(run(network, for_backend(x)), network, expected) == dict.fromkeys(network.spiking_layers, 0)
    assert all(int(spikes.sum()) > 0 for spikes in expected)  # the comparison is not vacuous


def dense_nir_net() -> nn.Sequential:
    """linear -> leaky -> linear -> leaky with per-neuron parameters, input (12,)."""
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(12, 10), leaky(0.9, 0.4, (10,)), nn.Linear(10, 6), leaky(0.6, 0.3, (6,)))
    with torch.no_grad():
        net[2].weight.mul_(3.0)
    return net.double().eval()


NIR_NETWORKS = {"conv-flatten-dense": (nir_conv_net, (2, 6, 6)), "dense": (dense_nir_net, (12,)),
                "synaptic": (lambda: synaptic_net(shaped=True), (12,))}
"""snnTorch networks that snnTorch's NIR exporter can write, with their input shapes."""


def check_through_nir(name: str, run: Callable[[object, np.ndarray], object], folder: Path) -> None:
    """``NIR_NETWORKS[name]`` -> snnTorch's exporter (float32) -> NIR file -> neurovae: runs as snnTorch does."""
    from neurovae.export.from_nir import nir_to_netx

    make, shape = NIR_NETWORKS[name]
    net = make().float()  # what a user exports: the float32 model, whose float64 twin Lava runs
    check_same_spikes(nir_to_netx(snntorch_graph(net, shape, folder / "net.nir")), net, spikes_in(shape), run)


def mismatches(result, network, torch_spikes: list[torch.Tensor]) -> dict[int, int]:
    """Spikes that differ, per spiking layer, between a backend result and snnTorch's ``[T, N, ...]`` spikes."""
    assert len(torch_spikes) == len(network.spiking_layers)
    return {index: int((result.spikes[index] != for_backend(ours.detach()).astype(bool)).sum())
            for index, ours in zip(network.spiking_layers, torch_spikes, strict=True)}
