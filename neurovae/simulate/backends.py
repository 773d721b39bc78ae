"""One switch over the backends that run a netx network, and the one encoder -> host -> decoder chain.

Backends (:data:`BACKENDS`), all returning the same :class:`~neurovae.simulate.SimulationResult`:

* ``torch``: the trained snnTorch stack itself (:func:`trace_stack`), float;
* ``lava``: neurovae's Lava process graph (:func:`~neurovae.simulate.run_lava`), float or fixed point;
* ``emulator``: the batched PyTorch emulator (:func:`~neurovae.simulate.emulator.run_emulator`), bit-exact with
  Lava fixed point;
* ``netx``: lava-dl's stock ``netx.hdf5.Network`` (:func:`~neurovae.simulate.run_netx_stock`), fixed point.

:class:`Chain` runs one network, or an encoder and a decoder with the latent sampled on the host between them,
on one batch; :func:`rounds` hands the batches of a run to the processes of a torchrun group. ``neurovae run``
(:mod:`neurovae.simulate.pipeline`) and ``neurovae energy`` (:mod:`neurovae.energy.measure`) are both loops over
them.

Example:
    >>> chain = Chain([encoder, decoder], Backend("emulator", "fixed"), seed=0)  # doctest: +SKIP
    >>> results, fed = chain(0, images, steps=21)                               # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from neurovae.distributed import Group
from neurovae.netx import NetworkRecord
from neurovae.neurons import SpikingStack
from neurovae.simulate.host import firing_rates, posterior_spikes
from neurovae.simulate.result import SimulationError, SimulationResult, check_inputs, load_network
from neurovae.simulate.schedule import ResetSchedule

BACKENDS = ("torch", "lava", "emulator", "netx")
"""Every backend, by the name the command line and the Python functions take."""


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
class Backend:
    """A backend with its settings; calling it runs one network on one batch.

    Attributes:
        name: one of :data:`BACKENDS`.
        precision: ``float`` or ``fixed``.
        record_voltage: also record every layer's voltage at every step.
        progress: show the backend's progress bar.
        schedule: lava-dl netx's reset schedule (lava, emulator, netx), or None: every sample a fresh network.
        stacks: the snnTorch stacks of the chain's networks (``torch`` only).
    """

    name: str
    precision: str = "float"
    record_voltage: bool = False
    progress: bool = False
    schedule: ResetSchedule | None = None
    stacks: Sequence[SpikingStack] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise SimulationError(f"backend {self.name!r} is not one of {', '.join(BACKENDS)}")
        if self.name == "torch":
            if self.schedule is not None:
                raise SimulationError("a netx reset schedule runs on lava, the emulator or netx, not on the "
                                      "snnTorch model")
            if self.stacks is None:
                raise SimulationError("the torch backend runs the trained snnTorch model: give the run directory "
                                      "(and --part), not a .net file")
            if self.precision != "float":
                raise SimulationError("the torch backend runs the float model; use --precision float (or the "
                                      "emulator / Lava for fixed point)")
        if self.name == "netx" and self.precision != "fixed":
            raise SimulationError("--backend netx runs stock lava-dl netx, which is fixed point only: add "
                                  "--precision fixed")

    def __call__(self, network: NetworkRecord | str | os.PathLike, inputs: np.ndarray, steps: int | None = None,
                 position: int = 0) -> SimulationResult:
        """Run ``inputs`` through ``network``, the ``position``-th of its chain (a file for stock netx to read)."""
        kwargs = dict(progress=self.progress, steps=steps, record_voltage=self.record_voltage,
                      schedule=self.schedule)
        if self.name == "torch":
            record = load_network(network)
            return trace_stack(self.stacks[position], record, check_inputs(record, inputs, steps))
        if self.name == "netx":
            from neurovae.simulate.run import run_netx_stock

            return run_netx_stock(network, inputs, **kwargs)
        if self.name == "lava":
            from neurovae.simulate.run import run_lava

            return run_lava(network, inputs, precision=self.precision, **kwargs)
        from neurovae.simulate.emulator import run_emulator

        return run_emulator(network, inputs, precision=self.precision, batch_size=max(1, len(inputs)), **kwargs)


@dataclass(frozen=True)
class Chain:
    """One network, or an encoder then a decoder with the latent sampled on the host, on one backend.

    Attributes:
        sources: each network as a record or a netx file path (stock netx reads files).
        backend: where the networks run.
        seed: the host sampling of batch ``k`` draws from a generator seeded with ``(seed, k)``, so a run's
            numbers do not depend on which process runs which batch.
    """

    sources: Sequence[NetworkRecord | str | os.PathLike]
    backend: Backend
    seed: int = 0
    networks: tuple[NetworkRecord, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.sources) <= 2:
            raise SimulationError("give one network, or two (encoder then decoder)")
        object.__setattr__(self, "networks", tuple(load_network(source) for source in self.sources))

    def __call__(self, index: int, inputs: np.ndarray,
                 steps: int | None = None) -> tuple[list[SimulationResult], list[np.ndarray]]:
        """Batch ``index``: each network's result, and what each network was fed (``[N, *input_shape, T]``)."""
        fed = [check_inputs(self.networks[0], inputs, steps)]
        results = [self.backend(self.sources[0], fed[0])]
        if len(self.networks) == 2:
            rng = np.random.default_rng([self.seed, index])
            fed.append(posterior_spikes(self.networks[0], self.networks[1], results[0], rng))
            results.append(self.backend(self.sources[1], fed[1], position=1))
        return results, fed

    def host_arrays(self, results: list[SimulationResult], fed: list[np.ndarray]) -> dict[str, np.ndarray]:
        """What the host computed between the networks: the encoder's rates and the sampled latent spikes."""
        if len(self.networks) == 1:
            return {}
        return {"encoder_rates": firing_rates(self.networks[0], results[0]), "latent_spikes": fed[1]}


def rounds(batches: int, group: Group) -> Iterator[int | None]:
    """Batch indices for this process, one per round (None: no batch left for it in that round).

    Under torchrun process ``k`` runs batches ``k, k + N, ...``; every process takes part in every round, so a
    round can end in a collective (gathering the round's batches) without a process waiting forever.
    """
    for first in range(0, batches, group.world):
        index = first + group.rank
        yield index if index < batches else None
