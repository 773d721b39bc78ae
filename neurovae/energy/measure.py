"""Count operations of a network (or an encoder -> decoder chain) on any backend, batch by batch.

The backends and the encoder -> host -> decoder chain are :mod:`neurovae.simulate.backends`'s (``torch``, the
trained snnTorch stack; ``lava``; ``emulator``). They return the same per-layer spikes and voltages, which
:class:`~neurovae.energy.counts.OperationCounter` turns into counts; only a batch is held in memory at a time, so
a whole test set can be counted with the emulator.

Example:
    >>> counts = count_chain([encoder, decoder], images, backend="emulator")  # doctest: +SKIP
    >>> counts[1][0].synaptic_ops                                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from neurovae import distributed
from neurovae.energy.counts import LayerCounts, OperationCounter
from neurovae.energy.profiles import EnergyProfile, load_profile
from neurovae.energy.report import EnergyReport
from neurovae.netx import NetworkRecord
from neurovae.neurons import SpikingStack
from neurovae.progress import sample_bar
from neurovae.simulate.backends import Backend, Chain, rounds
from neurovae.simulate.emulator.run import device_inputs
from neurovae.simulate.host import run_steps
from neurovae.simulate.result import check_precision
from neurovae.simulate.schedule import ResetSchedule

BATCH = {"torch": 64, "emulator": 64, "lava": None}
"""Samples per batch: the emulator and PyTorch record every layer's voltages, so batches stay small enough for a
paper-sized decoder (~350 MB); Lava compiles once per call, so it gets every sample at once."""


def count_chain(networks: Sequence[NetworkRecord], inputs: np.ndarray, backend: str = "emulator",
                precision: str = "float", stacks: Sequence[SpikingStack] | None = None, seed: int = 0,
                batch_size: int | None = None, progress: bool = True, steps: int | None = None,
                schedule: ResetSchedule | None = None) -> list[list[LayerCounts]]:
    """Per-layer counts of each network of a chain (one network, or an encoder then a decoder).

    Args:
        networks: one network, or an encoder and a decoder, whose input the host samples from the encoder's
            output (:func:`~neurovae.simulate.host.posterior_spikes`, seeded, as ``neurovae run`` does).
        inputs: the first network's input, ``[N, *input_shape, T]`` or static ``[N, *input_shape]`` (run for
            ``steps``: by default the file's steps plus its latency, or the schedule's interval).
        backend: ``torch``, ``lava`` or ``emulator`` (see :mod:`neurovae.simulate.backends`).
        precision: ``float`` or ``fixed`` (not for ``torch``).
        stacks: the snnTorch stacks of the networks (``torch`` backend only).
        seed: seed of the host-side sampling.
        batch_size: samples per batch (default per backend, :data:`BATCH`).
        progress: show a progress bar over samples.
        steps: steps per sample of static inputs (see ``inputs``).
        schedule: lava-dl netx's reset schedule: the samples then run back to back as one run (one batch).
    """
    chain = Chain(list(networks), Backend(backend, precision, record_voltage=True, schedule=schedule, stacks=stacks),
                  seed)
    for network in networks:
        check_precision(network, precision)
    first = networks[0]
    static = np.ndim(inputs) == len(first.input_shape) + 1
    default = schedule.interval if schedule is not None else run_steps(first)
    window = (steps or default) if static else steps
    size = len(inputs) if schedule is not None else int(batch_size or BATCH[backend] or len(inputs))
    counters = [OperationCounter(network) for network in networks]
    starts = list(range(0, len(inputs), size))
    group = distributed.join(torch.device("cpu"))
    try:
        with sample_bar(len(inputs), progress and group.main, f"counting on {backend} ({precision})") as bar:
            for index in rounds(len(starts), group):
                if index is None:
                    continue
                results, fed = chain(index, inputs[starts[index]:starts[index] + size], window)  # a batch in memory
                for counter, network, result, given in zip(counters, networks, results, fed, strict=True):
                    counter.update(device_inputs(network, given, precision), result, continuous=schedule is not None)
                bar.update(len(fed[0]) * group.world)
        for counter in counters:  # every process's counts, added up on each
            states = distributed.gather_objects(counter.state())
            for state in (state for rank, state in enumerate(states) if rank != group.rank):
                counter.merge(state)
    finally:
        distributed.leave(group)
    return [counter.compute() for counter in counters]


def energy_reports(names: Sequence[str], networks: Sequence[NetworkRecord], inputs: np.ndarray,
                   backend: str = "emulator", precision: str = "float", spiking: EnergyProfile | None = None,
                   ann: EnergyProfile | None = None, stacks: Sequence[SpikingStack] | None = None,
                   seed: int = 0, progress: bool = True, steps: int | None = None,
                   schedule: ResetSchedule | None = None, batch_size: int | None = None) -> list[EnergyReport]:
    """Count a chain (see :func:`count_chain`) and price each network: one :class:`EnergyReport` per network.

    ``spiking`` / ``ann``: the profiles (default ``loihi1`` / ``ann_horowitz2014``), read before any simulation
    runs so that a bad constants file fails first.
    """
    spiking, ann = spiking or load_profile("loihi1"), ann or load_profile("ann_horowitz2014")
    counts = count_chain(networks, inputs, backend=backend, precision=precision, stacks=stacks, seed=seed,
                         progress=progress, steps=steps, schedule=schedule, batch_size=batch_size)
    notes = [] if len(networks) == 1 else ["the decoder's input is sampled on the host from the encoder's output "
                                           "(ESVAE: Poisson; FSVAE: autoregressive Bernoulli) and not counted"]
    return [EnergyReport(name, layer_counts, spiking, ann, backend=backend, precision=precision, notes=notes)
            for name, layer_counts in zip(names, counts, strict=True)]
