"""Quantization-aware training: every forward pass computes what the exported fixed-point network computes.

:class:`FixedPointForward` hooks each deployable part of a model (encoder, decoder). Before a part runs, it is
exported and quantized exactly as ``neurovae export --lava --precision fixed`` does, and the emulator runs that
integer network (bit-exact with Lava ``fixed_pt``) on the part's input. Each spiking block's output is then
replaced by the integer network's, straight through: the forward value is the deployed network's spikes (or
readout, in training units), the gradient is the float block's surrogate gradient. The loss is therefore the
loss of what Lava will run, and a fine-tuned model exports to the network it was trained as.

Example:
    >>> with FixedPointForward(model):                 # doctest: +SKIP
    ...     loss = model.loss(images, model(images))["loss"]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from neurovae.export.export import READOUTS, ExportError, export_stack
from neurovae.export.quantize import quantize_network
from neurovae.neurons import SpikingBlock, SpikingStack
from neurovae.neurons.lif import LeakyReadout
from neurovae.simulate.emulator.plan import compile_network, run_batch
from neurovae.simulate.emulator.run import device_inputs


@dataclass
class _PartHook:
    """The integer outputs of one part's last run, handed to its blocks in order."""

    stack: SpikingStack
    encoding: str
    readout: str
    pending: list[torch.Tensor] = field(default_factory=list)

    def before(self, _stack: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        """Export + quantize the part as it is now and run the integer network on its input ``[T, N, ...]``."""
        frames = args[0].detach()
        network = quantize_network(export_stack(self.stack, steps=frames.shape[0], input_encoding=self.encoding,
                                                readout=READOUTS[self.readout]))
        data = torch.from_numpy(device_inputs(network, frames.double().cpu().numpy(), "fixed")).to(frames.device)
        bound = float(data.abs().max()) if data.numel() else 1.0
        plan = compile_network(network, "fixed", frames.device, input_bound=bound)
        last = network.spiking_layers[-1]
        record = run_batch(plan, data, record_voltage=(last,))
        outputs = []
        for index, block in zip(network.spiking_layers, self.blocks(), strict=True):
            if isinstance(block.neuron, LeakyReadout):
                outputs.append(block.neuron.reduce(record.voltages[index] / network.scale(index)))
            else:
                outputs.append(record.spikes[index])
        self.pending = outputs

    def after(self, _block: nn.Module, _args: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        """Straight through: the integer network's value, the float block's gradient."""
        target = self.pending.pop(0).to(output.dtype).reshape(output.shape)
        return output + (target - output).detach()

    def blocks(self) -> list[SpikingBlock]:
        """The part's spiking blocks, in order (the order the integer outputs are handed out)."""
        return [layer for layer in self.stack if isinstance(layer, SpikingBlock)]


class FixedPointForward:
    """Hooks that make ``model``'s deployable parts compute in Loihi fixed point (straight-through gradients).

    Installed on creation; :meth:`remove` (or leaving a ``with`` block) takes them off. tdBN is folded with its
    running statistics, so the hooked forward of a model in eval mode equals Lava ``fixed_pt`` on the exported
    files; in train mode the gradient still flows through batch statistics.
    """

    def __init__(self, model: nn.Module) -> None:
        parts = model.deployable_parts() if hasattr(model, "deployable_parts") else {}
        if not parts:
            raise ExportError(f"{type(model).__name__} has no spiking part to export, so it has no fixed-point "
                              "forward; quantization-aware training and fixed-point evaluation need a spiking model")
        self._handles = []
        for stack, encoding, readout in parts.values():
            part = _PartHook(stack, encoding, readout)
            self._handles.append(stack.register_forward_pre_hook(part.before))
            self._handles += [block.register_forward_hook(part.after) for block in part.blocks()]

    def remove(self) -> None:
        """Take the hooks off: the model computes in float again."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> FixedPointForward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
