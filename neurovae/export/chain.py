r"""An snnTorch network as the chain of layers its data flows through, and its run with Lava's timing.

:func:`export_netx <neurovae.export.from_snntorch.export_netx>` walks the chain; :func:`lava_timed_forward` runs it
as Lava will. Lava delivers a synapse's output one step later than it receives its input (every ``Dense`` /
``Conv`` holds one step), while the neuron adds its bias from step 0. Layer ``k`` of the exported network therefore
computes, at step ``t``,

.. math::
    I_k(t) = W_k\,s_{k-1}(t-1) + b_k, \qquad s_{k-1}(-1) = 0, \qquad s_0 = \text{the input},

where an snnTorch loop ``for t: spk = net(x[t])`` computes ``W_k s_{k-1}(t) + b_k``. :func:`lava_timed_forward` is
that loop with the delay: train (or check) with it and the exported network gives the same spikes at every layer
and every step. Without biases (and batch norms, whose shift is a bias) the plain loop's layer ``k`` at step ``t``
equals the exported network's at step ``t + k``: every layer rests until the input reaches it. With biases it does
not, because on Lava layer ``k`` integrates its bias alone for its first ``k`` steps.
"""

from __future__ import annotations

import copy

import snntorch as snn
import torch
from torch import nn

from neurovae.errors import NeurovaeError
from neurovae.neurons.blocks import SYNAPSES

NEURONS = (snn.Leaky, snn.Synaptic)
"""snnTorch neurons that map onto Loihi's CUBA LIF."""


class ChainError(NeurovaeError):
    """A module is not a chain of layers that neurovae can walk."""


def sequential_chain(module: nn.Module, input_shape: tuple[int, ...]) -> list[nn.Module]:
    """The leaf modules of ``module`` in the order its data flows through them.

    An ``nn.Sequential`` (nested ones included) is its children in order. Any other module is run once on a zero
    sample ``[1, *input_shape]`` with hooks on its leaf modules: its forward must call them one after the other,
    each on the previous one's output (its first output, for a neuron that returns ``(spikes, state...)``),
    possibly repeated over time steps. Something computed between them outside a module (``x.view``, an
    addition) breaks the chain and is refused, as it cannot be exported. The run is on a copy of the module.
    """
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in (sequential_chain(child, input_shape)
                                                      if isinstance(child, nn.Sequential) else [child])]
    if not list(module.children()):
        return [module]
    return _traced_chain(module, input_shape)


def _first(output: object) -> object:
    return output[0] if isinstance(output, tuple) else output


def _traced_chain(module: nn.Module, input_shape: tuple[int, ...]) -> list[nn.Module]:
    """The chain of a module's forward, found on a float32 copy: the model and its neurons' state stay untouched.

    (float32, because snnTorch's neurons return float32 spikes, so a float64 model's own forward cannot run.)
    """
    twin = copy.deepcopy(module).float()
    originals = dict(module.named_modules())
    names = {id(leaf): name for name, leaf in twin.named_modules()}
    calls: list[tuple[nn.Module, object, object]] = []
    for leaf in twin.modules():
        if not list(leaf.children()):
            leaf.register_forward_hook(lambda m, args, out: calls.append((m, args[0] if args else None, out)))
    name = type(module).__name__
    try:
        with torch.no_grad():
            twin(torch.zeros((1, *input_shape)))
    except Exception as error:  # any failure of the user's forward, in one line
        raise ChainError(f"could not run {name}'s forward on one sample of shape {tuple(input_shape)} to find its "
                         f"layers ({type(error).__name__}: {error}); pass an nn.Sequential") from None
    chain: list[nn.Module] = []
    for leaf, _, _ in calls:
        if any(leaf is seen for seen in chain):
            break
        chain.append(leaf)
    order = [leaf for leaf, _, _ in calls]
    if not chain or order != chain * (len(order) // len(chain)):
        raise ChainError(f"{name}'s forward does not call its layers in one fixed order (once per step); "
                         "pass an nn.Sequential")
    for (before, _, output), (after, given, _) in zip(calls, calls[1:len(chain)], strict=False):
        if given is not _first(output):
            raise ChainError(f"{name}'s forward does not feed {type(before).__name__}'s output straight into "
                             f"{type(after).__name__} (an operation outside a module, e.g. x.view, cannot be "
                             "exported; use nn.Flatten)")
    return [originals[names[id(leaf)]] for leaf in chain]


def reset_neurons(chain: list[nn.Module]) -> None:
    """Zero the hidden state that snnTorch keeps in each neuron module between calls."""
    for layer in chain:
        if isinstance(layer, NEURONS):
            layer.reset_mem()


def lava_timed_forward(module: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Spikes ``[T, N, ...]`` of every snnTorch neuron of ``module`` for ``inputs`` ``[T, N, *input_shape]``.

    The network runs step by step as Lava runs its export: each synapse sees the previous step's input (zero at
    step 0), so its bias acts from step 0 and spikes arrive a step later per layer (see the module docstring).
    Gradients flow (snnTorch's surrogates), so a training loop can use it; the neurons start from zero.
    """
    chain = sequential_chain(module, tuple(inputs.shape[2:]))
    reset_neurons(chain)
    held: dict[int, torch.Tensor] = {}
    spikes: dict[int, list[torch.Tensor]] = {i: [] for i, layer in enumerate(chain) if isinstance(layer, NEURONS)}
    for step in inputs.unbind(0):
        x = step
        for index, layer in enumerate(chain):
            if isinstance(layer, SYNAPSES):
                x, held[index] = layer(held.get(index, torch.zeros_like(x))), x
            else:
                x = _first(layer(x)).to(x.dtype)  # snnTorch's spike functions return float32
                if index in spikes:
                    spikes[index].append(x)
    return [torch.stack(steps) for steps in spikes.values()]
