"""Count operations of a network (or an encoder -> decoder chain) on any backend, batch by batch.

Backends: ``torch`` (the trained snnTorch stack itself, via :meth:`SpikingStack.trace`), ``lava``
(:func:`~neurovae.simulate.run_lava`) and ``emulator`` (:func:`~neurovae.emulator.run_emulator`). They return
the same per-layer spikes and voltages, which :class:`~neurovae.energy.counts.OperationCounter` turns into
counts; only a batch is held in memory at a time, so a whole test set can be counted with the emulator.

Example:
    >>> counts = count_chain([encoder, decoder], images, backend="emulator")  # doctest: +SKIP
    >>> counts[1][0].synaptic_ops                                             # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neurovae import distributed
from neurovae.emulator.run import device_inputs
from neurovae.energy.counts import LayerCounts, OperationCounter
from neurovae.energy.profiles import EnergyProfile, load_profile
from neurovae.energy.report import EnergyReport
from neurovae.netx import NetworkRecord
from neurovae.neurons import SpikingStack
from neurovae.progress import sample_bar
from neurovae.simulate.host import posterior_spikes, run_steps
from neurovae.simulate.result import SimulationError, SimulationResult, check_inputs, check_precision
from neurovae.simulate.schedule import ResetSchedule

BACKENDS = ("torch", "lava", "emulator")
BATCH = {"torch": 64, "emulator": 64, "lava": None}
"""Samples per batch: the emulator and PyTorch record every layer's voltages, so batches stay small enough for a
paper-sized decoder (~350 MB); Lava compiles once per call, so it gets every sample at once."""


def trace_stack(stack: SpikingStack, network: NetworkRecord, inputs: np.ndarray) -> SimulationResult:
    """The snnTorch ``stack``'s spikes and voltages on netx-format ``inputs`` ``[N, *input_shape, T]``.

    ``network`` is the stack's export (it gives the netx layer indices and shapes). Voltages are in training
    units, zero after a spike (as Lava stores them). The stack runs in its own dtype: use a float64 model to
    equal Lava ``floating_pt`` spike for spike.
    """
    start = time.perf_counter()
    dtype = next(stack.parameters()).dtype
    frames = torch.from_numpy(np.moveaxis(inputs, -1, 0).copy()).to(dtype)  # [T, N, *shape]
    with torch.no_grad():
        records = stack.trace(frames)
    if len(records) != len(network.spiking_layers):
        raise SimulationError(f"the model has {len(records)} spiking blocks but the network "
                              f"{len(network.spiking_layers)} spiking layers; was it exported from this model?")
    samples, steps = inputs.shape[0], inputs.shape[-1]
    spikes, voltages = {}, {}
    for index, (layer_spikes, layer_voltages) in zip(network.spiking_layers, records, strict=True):
        shape = (samples, *network.shapes[index], steps)
        spikes[index] = np.moveaxis(layer_spikes.numpy(), 0, -1).reshape(shape).astype(bool)
        voltages[index] = np.moveaxis(layer_voltages.numpy(), 0, -1).reshape(shape)
    last = network.spiking_layers[-1]
    return SimulationResult(spikes=spikes, readout_voltage=voltages[last][..., -1], readout=network.readout,
                            precision="float", backend="torch", wall_s=time.perf_counter() - start, voltages=voltages)


@dataclass(frozen=True)
class Runner:
    """Runs one network of a chain on a backend, recording every layer's spikes and voltages."""

    backend: str
    precision: str
    stacks: Sequence[SpikingStack] | None = None
    schedule: ResetSchedule | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SimulationError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.backend == "torch" and self.schedule is not None:
            raise SimulationError("a netx reset schedule runs on lava or the emulator, not on the snnTorch model")
        if self.backend == "torch":
            if self.stacks is None:
                raise SimulationError("the torch backend runs the trained snnTorch model: give the run directory "
                                      "(and --part), not a .net file")
            if self.precision != "float":
                raise SimulationError("the torch backend runs the float model; use --precision float (or the "
                                      "emulator / Lava for fixed point)")

    def __call__(self, position: int, network: NetworkRecord, inputs: np.ndarray) -> SimulationResult:
        """Run ``inputs`` ``[N, *input_shape, T]`` through the ``position``-th network of the chain."""
        if self.backend == "torch":
            return trace_stack(self.stacks[position], network, inputs)
        if self.backend == "lava":
            from neurovae.simulate import run_lava

            return run_lava(network, inputs, precision=self.precision, record_voltage=True, progress=False,
                            schedule=self.schedule)
        from neurovae.emulator import run_emulator

        return run_emulator(network, inputs, precision=self.precision, record_voltage=True, progress=False,
                            batch_size=len(inputs), schedule=self.schedule)


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
        backend: ``torch``, ``lava`` or ``emulator``.
        precision: ``float`` or ``fixed`` (not for ``torch``).
        stacks: the snnTorch stacks of the networks (``torch`` backend only).
        seed: seed of the host-side sampling.
        batch_size: samples per batch (default per backend, :data:`BATCH`).
        progress: show a progress bar over samples.
        steps: steps per sample of static inputs (see ``inputs``).
        schedule: lava-dl netx's reset schedule: the samples then run back to back as one run (one batch).
    """
    if not 1 <= len(networks) <= 2:
        raise SimulationError("give one network, or two (encoder then decoder)")
    run = Runner(backend, precision, stacks, schedule)
    for network in networks:
        check_precision(network, precision)
    first = networks[0]
    static = np.ndim(inputs) == len(first.input_shape) + 1
    default = schedule.interval if schedule is not None else run_steps(first)
    window = (steps or default) if static else steps
    size = len(inputs) if schedule is not None else int(batch_size or BATCH[backend] or len(inputs))
    counters = [OperationCounter(network) for network in networks]
    group = distributed.join(torch.device("cpu"))
    try:
        with sample_bar(len(inputs), progress and group.main, f"counting on {backend} ({precision})") as bar:
            for number, first_sample in enumerate(range(0, len(inputs), size)):
                if number % group.world != group.rank:  # under torchrun, process k counts batches k, k + N, ...
                    continue
                # checked and converted a batch at a time: bounded memory
                batch = check_inputs(first, inputs[first_sample:first_sample + size], window)
                bar_step, result = len(batch), None
                rng = np.random.default_rng([seed, number])  # the same draws whichever process counts the batch
                for position, network in enumerate(networks):
                    if position:
                        batch = posterior_spikes(networks[position - 1], network, result, rng)
                    result = run(position, network, batch)
                    counters[position].update(device_inputs(network, batch, precision), result,
                                              continuous=schedule is not None)
                bar.update(bar_step * group.world)
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
