"""Spiking layers as a Lava pipeline runs them: synapse, optional tdBN, neuron, one step of delay.

Tensors are time-first, ``[T, N, ...]`` (snnTorch's convention). A :class:`SpikingBlock` computes
``I(t) = norm(synapse(s_in(t-1)))`` for all steps at once, with time folded into the batch (the
expensive convolutions run once over ``T*N`` samples), then runs its neuron over time. The one-step
shift is the delay that every Lava ``Dense``/``Conv`` adds between layers, and it makes the bias of a
layer act from step 0 while spikes from the layer before arrive one step later: exactly what the
exported network does on Lava, so the trained model *is* the deployed one.

A :class:`SpikingStack` is the exportable unit (an encoder or a decoder): a sequence of blocks and
reshapes that :mod:`neurovae.export` walks layer by layer.
"""

from __future__ import annotations

import torch
from torch import nn

from neurovae.neurons.lif import LIF, LeakyReadout
from neurovae.neurons.tdbn import TDBatchNorm

SYNAPSES = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def delay_one_step(x: torch.Tensor) -> torch.Tensor:
    """Shift ``[T, N, ...]`` one step later in time, zero at step 0 (a Lava synapse's delay)."""
    return torch.cat([torch.zeros_like(x[:1]), x[:-1]])


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """``[T, N, ...] -> [T*N, ...]``."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def unfold_time(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``[T*N, ...] -> [T, N, ...]``."""
    return x.reshape(steps, x.shape[0] // steps, *x.shape[1:])


class SpikingBlock(nn.Module):
    """``synapse -> tdBN (optional) -> LIF`` (or ``-> LeakyReadout`` for an output layer).

    Args:
        synapse: ``nn.Linear``, ``nn.Conv2d`` or ``nn.ConvTranspose2d``.
        neuron: :class:`LIF` (returns spikes ``[T, N, ...]``) or :class:`LeakyReadout`
            (returns the last-step voltage ``[N, ...]``).
        norm: tdBN over the synapse's output channels, folded into the synapse on export.
    """

    def __init__(self, synapse: nn.Module, neuron: LIF | LeakyReadout, norm: TDBatchNorm | None = None):
        super().__init__()
        if not isinstance(synapse, SYNAPSES):
            raise TypeError(f"unsupported synapse {type(synapse).__name__}; use one of {SYNAPSES}")
        self.synapse = synapse
        self.norm = norm
        self.neuron = neuron

    def current(self, spikes_in: torch.Tensor) -> torch.Tensor:
        """Input current ``[T, N, ...]`` for input spikes ``[T, N, ...]`` (delay included).

        Equals ``synapse(fold_time(delay_one_step(spikes_in)))`` (then tdBN) element for element, but
        skips work whose result is known: step 0 sees only the delay's zeros, so the synapse runs on a
        single zero sample; an input that is the same at every step (direct image input, a ``T``-fold
        ``expand`` with time stride 0) goes through the synapse once instead of ``T - 1`` times.
        """
        steps, batch = spikes_in.shape[:2]
        sample_shape = spikes_in.shape[2:]
        at_zero = self.synapse(spikes_in.new_zeros((1, *sample_shape)))
        at_zero = at_zero.unsqueeze(0).expand(1, batch, *at_zero.shape[1:])
        if steps == 1:
            pre = at_zero
        elif spikes_in.stride(0) == 0:
            once = self.synapse(spikes_in[0])
            pre = torch.cat([at_zero, once.unsqueeze(0).expand(steps - 1, *once.shape)])
        else:
            later = self.synapse(fold_time(spikes_in[:-1]))
            pre = torch.cat([at_zero, unfold_time(later, steps - 1)])
        pre = fold_time(pre)
        if self.norm is not None:
            pre = self.norm(pre)
        return unfold_time(pre, steps)

    def forward(self, spikes_in: torch.Tensor) -> torch.Tensor:
        """Output spikes (or readout voltage) of the block."""
        return self.neuron(self.current(spikes_in))

    def trace(self, spikes_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Output spikes and the voltage after every step, ``[T, N, ...]`` each (a readout never spikes)."""
        current = self.current(spikes_in)
        if isinstance(self.neuron, LeakyReadout):
            voltages = self.neuron.trace(current)
            return torch.zeros_like(voltages), voltages
        return self.neuron.trace(current)


class TimeFlatten(nn.Module):
    """``[T, N, C, H, W] -> [T, N, C*H*W]`` (netx ``flatten``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten all but time and batch."""
        return x.flatten(2)


class TimeUnflatten(nn.Module):
    """``[T, N, C*H*W] -> [T, N, C, H, W]``; a view, free on Lava where dense output is CHW-ordered."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Restore the spatial shape."""
        return x.reshape(*x.shape[:2], *self.shape)

    def extra_repr(self) -> str:
        """Shown by print(module)."""
        return f"shape={self.shape}"


class SpikingStack(nn.Sequential):
    """An exportable spiking network: :class:`SpikingBlock` s with reshapes in between.

    ``forward`` takes ``[T, N, *input_shape]`` input (spikes, or graded values for direct input)
    and returns the last block's output. ``input_shape`` is recorded for export.
    """

    def __init__(self, input_shape: tuple[int, ...], *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.input_shape = tuple(input_shape)

    @property
    def latency(self) -> int:
        """Steps an input takes to reach the last layer: one per synapse (each adds Lava's one-step delay)."""
        return sum(isinstance(layer, SpikingBlock) for layer in self)

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every layer (for parity tests)."""
        outputs = []
        for layer in self:
            x = layer(x)
            outputs.append(x)
        return outputs

    def trace(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(spikes, voltages)`` ``[T, N, ...]`` of every :class:`SpikingBlock`, in order (for spike counting)."""
        records = []
        for layer in self:
            if isinstance(layer, SpikingBlock):
                x, voltages = layer.trace(x)
                records.append((x, voltages))
            else:
                x = layer(x)
        return records
