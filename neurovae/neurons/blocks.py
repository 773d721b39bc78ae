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

import math

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
        pre = at_zero if steps == 1 else torch.cat([at_zero, self.synapse_over_time(spikes_in[:-1])])
        pre = fold_time(pre)
        if self.norm is not None:
            pre = self.norm(pre)
        return unfold_time(pre, steps)

    def synapse_over_time(self, x: torch.Tensor) -> torch.Tensor:
        """The synapse applied to every step of ``x`` ``[T, N, ...]`` -> ``[T, N, ...]``, time folded into the batch.

        An input that is the same at every step (an ``expand`` with time stride 0, as direct image input is) goes
        through the synapse once and is expanded again.
        """
        if x.stride(0) == 0:
            once = self.synapse(x[0])
            return once.unsqueeze(0).expand(x.shape[0], *once.shape)
        return unfold_time(self.synapse(fold_time(x)), x.shape[0])

    def window(self, prefix: torch.Tensor, data: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The block's run split as :meth:`SpikingStack.window` splits it.

        ``prefix`` ``[k-1, 1, ...]`` is the input that every sample shares (the bias-driven start-up of the layers
        before), ``data`` ``[T, N, ...]`` the input steps that follow it. The synapse's delay puts a zero step in
        front, so the block's own prefix is ``k`` steps; it returns ``(prefix, data)`` outputs (for a readout,
        ``(None, output)``).
        """
        steps = data.shape[0]
        delayed_prefix = torch.cat([prefix.new_zeros((1, *prefix.shape[1:])), prefix])
        prefix_current = self.synapse(fold_time(delayed_prefix))
        data_current = fold_time(self.synapse_over_time(data))
        if self.norm is not None:
            prefix_current, data_current = self.norm.window(prefix_current, data_current)
        return self.neuron.window(unfold_time(prefix_current, delayed_prefix.shape[0]),
                                  unfold_time(data_current, steps))

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


def true_fan_in(synapse: nn.Module) -> float:
    """The number of inputs that reach one output of ``synapse``.

    ``in_channels * k_h * k_w`` for a convolution, over ``stride_h * stride_w`` for a transposed one (each
    output pixel sees that share of the taps). PyTorch's default initialization counts a transposed
    convolution's *output* channels instead, which for a one-channel image readout makes the weights
    ``sqrt(in_channels)`` times too large.
    """
    if isinstance(synapse, nn.Linear):
        return float(synapse.in_features)
    taps = synapse.in_channels // synapse.groups * math.prod(synapse.kernel_size)
    if isinstance(synapse, nn.ConvTranspose2d):
        return taps / math.prod(synapse.stride)
    return float(taps)


def init_readout(block: SpikingBlock, steps: int) -> None:
    r"""Initialize a membrane readout so that its output starts in the linear range of the ``tanh`` after it.

    The readout integrates its synapse over all ``steps`` of the run (``T`` plus the pipeline's latency), so a
    constant current ``I`` ends as ``G I`` with ``G = \sum_{k<steps} \beta^k`` (about 5 for beta 0.8). With
    PyTorch's default initialization the bias alone then reaches ``±G/3`` and the weights, shared by every
    pixel of a one-channel image, shift the whole image by a few units: ``tanh`` starts saturated for most
    seeds and its gradient vanishes. Here the bias starts at 0 and the weights are uniform in
    ``±1 / (sqrt(fan_in) G)``: the integrated output has the scale of one step of a standard layer, well
    inside ``tanh``'s linear range, and gradients reach every layer from the first step.
    """
    if not isinstance(block.neuron, LeakyReadout):
        raise TypeError("init_readout needs a block with a LeakyReadout neuron")
    gain = sum(block.neuron.params.beta ** k for k in range(steps))
    bound = 1.0 / (math.sqrt(true_fan_in(block.synapse)) * gain)
    with torch.no_grad():
        block.synapse.weight.uniform_(-bound, bound)
        if block.synapse.bias is not None:
            block.synapse.bias.zero_()


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

    def window(self, x: torch.Tensor) -> torch.Tensor:
        """The output over the window that input ``x`` ``[T, N, *input_shape]`` reaches, past the latency.

        What ``forward`` gives for ``x`` followed by ``latency`` more steps (of anything: they arrive too late),
        read where the model reads it: the last layer's spikes at steps ``latency .. latency + T - 1``
        ``[T, N, ...]``, or a readout's output after the last step. Only that is computed: layer ``k`` runs its
        first ``k`` steps, which see no input yet and so are the same for every sample, on one sample, and then
        the ``T`` steps that reach the window, as many as the input has, instead of ``T + latency``. In eval
        mode this equals the full run exactly; in training, tdBN takes its batch statistics over those ``T``
        steps. A stack with hooks (quantization-aware training) runs in full, so that the hooks see every step.
        """
        if self._has_hooks():
            padded = torch.cat([x, x.new_zeros((self.latency, *x.shape[1:]))])
            output = self(padded)
            last = [layer for layer in self if isinstance(layer, SpikingBlock)][-1]
            return output if isinstance(last.neuron, LeakyReadout) else output[self.latency:]
        prefix, data = x.new_zeros((0, 1, *x.shape[2:])), x
        for layer in self:
            if isinstance(layer, SpikingBlock):
                prefix, data = layer.window(prefix, data)
            else:
                prefix, data = layer(prefix), layer(data)
        return data

    def _has_hooks(self) -> bool:
        modules = [self, *self]
        return any(module._forward_pre_hooks or module._forward_hooks for module in modules)

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
