"""Neuron labelling by maximum mean response, and classification by the labelled neurons (Diehl & Cook 2015).

Each excitatory neuron takes the class whose images made it fire most on average. An image is then assigned
the class whose neurons fire most on average in response to it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, TypeVar

import torch

from neurovae.sleep.stdp_network.params import StdpParameterError

if TYPE_CHECKING:
    from neurovae.sleep.stdp_network.network import DiehlCookNetwork

NUM_CLASSES = 10
Key = TypeVar("Key", bound=Hashable)


def assign_labels(counts: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Label of each neuron: ``counts [copies, images, neurons]``, ``labels [images]`` -> ``[copies, neurons]``.

    A neuron that never fired, or a class with no image, cannot win: classes without images get -inf.
    """
    if counts.shape[1] != len(labels):
        raise StdpParameterError(f"{counts.shape[1]} responses but {len(labels)} labels")
    one_hot = torch.nn.functional.one_hot(labels.long(), num_classes).to(counts.dtype)
    per_class = one_hot.sum(dim=0)
    mean = torch.einsum("cin,ik->cnk", counts, one_hot) / per_class.clamp(min=1)
    mean[..., per_class == 0] = -torch.inf
    return mean.argmax(dim=-1)


def classify(counts: torch.Tensor, neuron_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Predicted class per image, ``[copies, images]``: the class with the highest mean neuron response.

    Classes that own no neuron cannot be predicted.
    """
    one_hot = torch.nn.functional.one_hot(neuron_labels, num_classes).to(counts.dtype)
    owned = one_hot.sum(dim=1, keepdim=True)
    mean = torch.bmm(counts, one_hot) / owned.clamp(min=1)
    return mean.masked_fill(owned == 0, -torch.inf).argmax(dim=-1)


def accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction correct per copy, ``[copies]``."""
    return (predictions == labels.unsqueeze(0)).to(torch.float64).mean(dim=1)


def label_and_score(network: DiehlCookNetwork, label_set: tuple[torch.Tensor, torch.Tensor],
                    tests: Mapping[Key, torch.Tensor], targets: torch.Tensor,
                    generator: torch.Generator) -> dict[Key, list[float]]:
    """Label the neurons on ``label_set`` (images, classes), then each copy's accuracy on every test set."""
    neuron_labels = assign_labels(network.responses(label_set[0], generator), label_set[1], NUM_CLASSES)
    return {key: accuracy(classify(network.responses(images, generator), neuron_labels, NUM_CLASSES),
                          targets).tolist()
            for key, images in tests.items()}
