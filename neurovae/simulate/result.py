"""What a simulation returns, and the checks on its inputs (no Lava import here).

Example:
    >>> result = run_lava(network, inputs)  # doctest: +SKIP
    >>> result.spikes[1].shape              # doctest: +SKIP
    (8, 400, 16)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from neurovae.errors import NeurovaeError
from neurovae.netx import PRECISIONS, NetworkRecord, read_netx


class SimulationError(NeurovaeError):
    """A simulation request is invalid (inputs, steps, precision); the message is one line."""


@dataclass(frozen=True)
class SimulationResult:
    """Per-layer records of a run of N samples of T steps each (shapes CHW, as in the netx file).

    Attributes:
        spikes: layer index -> bool ``[N, *shape, T]`` for every spiking layer; ``spikes[i][..., t]`` is
            layer i's output at step t (0-based) of the sample, which reached it through i - 1 synapses
            (Lava delivers a synapse's output one step later).
        readout_voltage: the last layer's voltage at the last step of each sample, ``[N, *shape]``, in device
            units (fixed point: Lava's internal ``v`` divided by 2**6). Voltages are read after the step, so
            a neuron that spiked at that step reads 0 (a readout layer never spikes).
        voltages: layer index -> ``[N, *shape, T]`` voltages after each step (only with ``record_voltage``).
        readout: the network's readout, ``spikes`` or ``voltage``.
        precision: ``float`` or ``fixed``.
        backend: ``neurovae`` (:func:`run_lava`), ``netx`` (:func:`run_netx_stock`) or ``emulator``
            (:func:`neurovae.simulate.emulator.run_emulator`).
        wall_s: seconds spent building, compiling and running.
    """

    spikes: dict[int, np.ndarray]
    readout_voltage: np.ndarray
    readout: str
    precision: str
    backend: str
    wall_s: float
    voltages: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        """Number of samples N."""
        return int(self.readout_voltage.shape[0])

    @property
    def steps(self) -> int:
        """Steps per sample T."""
        return int(next(iter(self.spikes.values())).shape[-1])

    @property
    def output(self) -> np.ndarray:
        """The network's output: ``readout_voltage`` for a voltage readout, else the last layer's spikes."""
        return self.readout_voltage if self.readout == "voltage" else self.spikes[max(self.spikes)]

    @property
    def steps_per_s(self) -> float:
        """Simulated steps per second of wall time (all samples, build and compile included)."""
        return self.samples * self.steps / self.wall_s if self.wall_s > 0 else float("inf")


def load_network(network: NetworkRecord | str | os.PathLike) -> NetworkRecord:
    """Accept a record or a path to a netx file."""
    if isinstance(network, NetworkRecord):
        return network
    if isinstance(network, str | os.PathLike):
        return read_netx(network)
    raise SimulationError(f"expected a NetworkRecord or a netx file path, got {type(network).__name__}")


def check_inputs(network: NetworkRecord, inputs: np.ndarray, steps: int | None) -> np.ndarray:
    """Validate ``inputs`` ``[N, *input_shape, T]`` (or ``[N, *input_shape]`` repeated ``steps`` times).

    Returns:
        float64 ``[N, *input_shape, T]``.
    """
    shape = network.input_shape
    array = np.asarray(inputs)
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise SimulationError(f"steps={steps!r} must be a positive whole number of time steps")
    if array.ndim == len(shape) + 1 and steps is not None and tuple(array.shape[1:]) == shape:
        array = np.repeat(array[..., None], int(steps), axis=-1)
    if array.ndim != len(shape) + 2 or tuple(array.shape[1:-1]) != shape:
        raise SimulationError(
            f"inputs have shape {array.shape} but this network needs [N, {', '.join(map(str, shape))}, T] "
            f"(or [N, {', '.join(map(str, shape))}] with steps=T)"
        )
    if array.shape[-1] < 1:
        raise SimulationError("inputs have 0 time steps; give T >= 1 steps in the last axis")
    if array.shape[0] < 1:
        raise SimulationError("inputs hold no samples; give N >= 1 samples in the first axis")
    if steps is not None and array.shape[-1] != steps:
        raise SimulationError(f"inputs have {array.shape[-1]} time steps but steps={steps}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise SimulationError(f"inputs must be numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)  # checked twice on a chain (chain, then backend): one copy
    if not np.all(np.isfinite(array)):
        raise SimulationError("inputs contain NaN or infinite values")
    if network.input_encoding == "bias" and not np.all(array == array[..., :1]):
        raise SimulationError("a bias-driven input (an Input block with neurons) holds one value per sample: give "
                              "[N, *input_shape] with steps=T, or the same value at every step")
    if network.input_encoding == "spikes" and not np.all((array == 0) | (array == 1)):
        raise SimulationError(
            "inputs must be 0/1 spikes for a network with input_encoding='spikes'; encode them first"
        )
    return array


def check_precision(network: NetworkRecord, precision: str) -> None:
    """Refuse a precision or network that no backend can run (one-line SimulationError)."""
    if precision not in PRECISIONS:
        raise SimulationError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}")
    if not network.spiking_layers:
        raise SimulationError("the network has no spiking layer to simulate")
    for index in network.spiking_layers:
        layer = network.layers[index]
        if layer.neuron.gradedSpike:
            raise SimulationError(f"layer {index} ({layer.type}) sends graded spikes, which neurovae does not run")
    if precision == "fixed" and network.precision != "fixed":
        check = NetworkRecord(layers=network.layers, precision="fixed")  # raises on non-integer parameters
        del check
