"""ANN <-> spiking conversion of Talafha et al. 2020, Algorithm 1 (CONVERTVAETOSVAE / CONVERTSVAETOVAE).

The sleeping network is the encoder's convolutions, each mirrored by the decoder's transposed convolution that
maps back to the same feature map (Table 1's decoder is the encoder transposed, so their weights share one
``[C_out, C_in, k, k]`` layout). The weights are mapped unchanged; data-based weight normalization (Diehl et al.
2015) returns per-layer scales ``lambda_{l-1} / lambda_l`` from the maximum ReLU activation ``lambda_l`` of each
layer on training data (``lambda_0`` = 1, the largest pixel intensity), which multiply the synaptic input during
sleep. Only bias-free layers followed by ReLU convert: a rate read from a spike count cannot be negative or offset.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from neurovae.errors import NeurovaeError


class ConversionError(NeurovaeError):
    """The model cannot be mapped onto integrate-and-fire neurons."""


@dataclass
class SleepLayer:
    """One sleeping convolution and its decoder mirror (weights are detached copies, changed by sleep)."""

    name: str
    mirror_name: str
    weight: torch.Tensor  # encoder convolution [C_out, C_in, k, k]
    mirror_weight: torch.Tensor  # decoder transposed convolution, same layout
    stride: int
    padding: int
    scale: float = 1.0  # lambda_{l-1} / lambda_l

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """CHW output of the convolution for a CHW input (square kernel, same stride and padding both ways)."""
        channels, kernel = int(self.weight.shape[0]), int(self.weight.shape[-1])
        return (channels, *((side + 2 * self.padding - kernel) // self.stride + 1 for side in input_shape[1:]))


def layer_shapes(layers: list[SleepLayer], input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The CHW input shape of every sleeping layer, then the last one's output shape (``len(layers) + 1`` shapes)."""
    shapes = [tuple(input_shape)]
    for layer in layers:
        shapes.append(layer.output_shape(shapes[-1]))
    return shapes


def _convolutions(model: nn.Module, part: str, kind: type[nn.Module]) -> list[tuple[str, nn.Module]]:
    """``(qualified name, layer)`` of every ``kind`` layer in ``model.<part>`` (a Sequential), checked convertible."""
    sequence = getattr(model, part, None)
    if not isinstance(sequence, nn.Sequential):
        raise ConversionError(f"{type(model).__name__} has no {part} Sequential; VAE-sleep converts CVAE-like models "
                              "(cvae, vsc)")
    modules = list(sequence.named_children())
    found = []
    for index, (name, layer) in enumerate(modules):
        if not isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            continue
        label = f"{part}.{name} ({type(layer).__name__})"
        if layer.bias is not None:
            raise ConversionError(f"layer {label} has a bias; integrate-and-fire conversion needs bias-free layers "
                                  "(train with model.bias: false, the default)")
        if not torch.isfinite(layer.weight).all():
            raise ConversionError(f"layer {label} has NaN or infinite weights; sleep a run whose training "
                                  "converged (restore an earlier checkpoint or retrain)")
        following = modules[index + 1][1] if index + 1 < len(modules) else None
        is_output = part == "decoder" and index == len(modules) - 1
        if not is_output and not isinstance(following, nn.ReLU):
            activation = type(following).__name__ if following is not None else "nothing"
            raise ConversionError(f"layer {label} is followed by {activation}, not ReLU; "
                                  "only ReLU activations read as firing rates")
        if isinstance(layer, kind):
            found.append((f"{part}.{name}", layer))
    return found


def sleep_layers(model: nn.Module) -> list[SleepLayer]:
    """Pair each encoder convolution with its decoder mirror (CONVERTVAETOSVAE's weight mapping)."""
    encoder = _convolutions(model, "encoder", nn.Conv2d)
    decoder = _convolutions(model, "decoder", nn.ConvTranspose2d)[::-1]
    if not encoder or len(encoder) != len(decoder):
        raise ConversionError(f"{len(encoder)} encoder convolutions but {len(decoder)} decoder transposed "
                              "convolutions; mirrored sleep needs one mirror per convolution")
    layers = []
    for (name, conv), (mirror_name, deconv) in zip(encoder, decoder, strict=True):
        if conv.weight.shape != deconv.weight.shape or conv.stride != deconv.stride:
            raise ConversionError(f"{mirror_name} {tuple(deconv.weight.shape)} does not mirror {name} "
                                  f"{tuple(conv.weight.shape)}")
        layers.append(SleepLayer(name, mirror_name, conv.weight.detach().clone(), deconv.weight.detach().clone(),
                                 conv.stride[0], conv.padding[0]))
    return layers


@torch.no_grad()
def normalize(layers: list[SleepLayer], intensities: torch.Tensor) -> list[float]:
    """Data-based normalization: set and return each layer's scale ``lambda_{l-1} / lambda_l``.

    Args:
        layers: the sleeping convolutions, in order.
        intensities: training images as intensities in [0, 1], ``[N, C, H, W]``.
    """
    previous, activity = 1.0, intensities
    for layer in layers:
        activity = torch.relu(torch.nn.functional.conv2d(activity, layer.weight, stride=layer.stride,
                                                         padding=layer.padding))
        peak = activity.max().item()
        if peak <= 0:
            raise ConversionError(f"layer {layer.name} is silent on every training image (max activation 0); "
                                  "it cannot be normalized")
        layer.scale = previous / peak
        previous = peak
    return [layer.scale for layer in layers]


def to_snn(model: nn.Module, intensities: torch.Tensor) -> list[SleepLayer]:
    """CONVERTVAETOSVAE: the sleeping layers of ``model`` with their normalization scales."""
    layers = sleep_layers(model)
    normalize(layers, intensities)
    return layers


def to_ann(model: nn.Module, layers: list[SleepLayer]) -> nn.Module:
    """CONVERTSVAETOVAE: a copy of ``model`` whose mirrored convolutions carry the slept weights."""
    slept = copy.deepcopy(model)
    for layer in layers:
        slept.get_submodule(layer.name).weight.data.copy_(layer.weight)
        slept.get_submodule(layer.mirror_name).weight.data.copy_(layer.mirror_weight)
    return slept
