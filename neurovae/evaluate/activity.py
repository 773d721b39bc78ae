"""Spiking activity statistics of Hübotter et al. 2021 (Sec. 3.2, A.2, A.5), streamed over a dataset.

For a layer with firing rates ``r[n, i]`` (image n, neuron i; spike count / T):

* **ANR**, active neuron ratio: the fraction of neurons that spike for at least one image (``1 - INP``);
  dead neurons are the others, silent for every image.
* **AFR**, average firing rate of the active neurons: total spikes / (active neurons x images x T).
* **RAE**, ratio of the average number of neurons active per image to all active neurons.
* **bursting** neurons: firing at a rate of at least ``burst_rate`` for every image. The paper describes
  bursting ("very high firing rates up to constant activation across input stimuli") without a number;
  ``burst_rate = 0.5`` is neurovae's choice.
* the **intra/inter-class distance ratio** of the latent representation (Table 8): the mean Euclidean
  distance between two images of the same class over that between images of different classes (invariant to
  the paper's scaling of the representation to [0, 1]; lower means more class structure).

:class:`LayerActivity` follows the update / compute / reset pattern, so an evaluation keeps a few numbers per
neuron and per image instead of every rate.

Example:
    >>> stats = LayerActivity()
    >>> stats.update(torch.tensor([[0.0, 0.5, 0.9], [0.0, 0.0, 0.8]]))
    >>> {k: round(v, 3) for k, v in stats.compute().items()}
    {'anr': 0.667, 'afr': 0.55, 'rae': 0.75, 'dead': 1, 'bursting': 1, 'neurons': 3}
"""

from __future__ import annotations

import math

import torch

BURST_RATE = 0.5
"""A neuron firing at least at this rate for every image is counted as bursting (neurovae's threshold)."""


class LayerActivity:
    """Activity statistics of one layer, accumulated batch by batch of rates ``[N, neurons]``."""

    def __init__(self, burst_rate: float = BURST_RATE) -> None:
        self.burst_rate = burst_rate
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen."""
        self.active: torch.Tensor | None = None  # [neurons] spiked for some image
        self.lowest: torch.Tensor | None = None  # [neurons] lowest rate over the images
        self.rate_sum = 0.0
        self.active_per_image: list[torch.Tensor] = []

    def update(self, rates: torch.Tensor) -> None:
        """Account the rates ``[N, neurons]`` of one batch of images."""
        rates = rates.detach().flatten(1).double().cpu()
        fired = rates > 0
        if self.active is None:
            self.active, self.lowest = fired.any(0), rates.min(0).values
        else:
            self.active |= fired.any(0)
            self.lowest = torch.minimum(self.lowest, rates.min(0).values)
        self.rate_sum += float(rates.sum())
        self.active_per_image.append(fired.sum(1))

    def compute(self) -> dict[str, float | int]:
        """``anr``, ``afr``, ``rae``, ``dead`` and ``bursting`` neuron counts, ``neurons``."""
        if self.active is None:
            raise ValueError("no rates seen; call update() first")
        neurons, active = self.active.numel(), int(self.active.sum())
        images = int(sum(len(a) for a in self.active_per_image))
        per_image = torch.cat(self.active_per_image).double().mean()
        return {
            "anr": active / neurons,
            "afr": self.rate_sum / (active * images) if active else 0.0,
            "rae": float(per_image) / active if active else 0.0,
            "dead": neurons - active,
            "bursting": int((self.lowest >= self.burst_rate).sum()),
            "neurons": neurons,
        }


def intra_inter_distance_ratio(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean Euclidean distance within classes over that between classes (pairs of distinct images).

    NaN where it is undefined: no two images of one class, a single class, or every image represented alike
    (e.g. an all-silent latent layer), so that an evaluation of such a set still completes.
    """
    features, labels = features.double().flatten(1), torch.as_tensor(labels)
    distances = torch.cdist(features, features)
    same = labels[:, None] == labels[None, :]
    distinct = ~torch.eye(len(labels), dtype=torch.bool)
    intra, inter = distances[same & distinct], distances[~same]
    if intra.numel() == 0 or inter.numel() == 0 or inter.mean() == 0:
        return math.nan
    return float(intra.mean() / inter.mean())
