"""``run_emulator``: netx networks on a batch of samples at once, interchangeable with ``run_lava``.

It takes the same inputs as :func:`neurovae.simulate.run_lava` (checked by the same function) and returns
the same :class:`~neurovae.simulate.SimulationResult` (``backend='emulator'``): per-layer spikes
``[N, *CHW, T]``, the readout voltage in device units (fixed point: Lava's ``v / 2**6``) and, when asked,
every layer's voltages. It never imports Lava.

Example:
    >>> result = run_emulator("decoder.net", latent_spikes, precision="fixed", batch_size=256)  # doctest: +SKIP
    >>> result.spikes[1].shape                                                                 # doctest: +SKIP
    (10000, 256, 2, 2, 16)
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection

import numpy as np
import torch

from neurovae.netx import NetworkRecord
from neurovae.progress import sample_bar
from neurovae.simulate.emulator.plan import Plan, compile_network, run_batch
from neurovae.simulate.fixed import GRADED_EXP
from neurovae.simulate.result import SimulationError, SimulationResult, check_inputs, check_precision, load_network
from neurovae.simulate.schedule import ResetSchedule

DEFAULT_BATCH = 32
"""Samples per batch: large enough that every synapse call is one big matrix product, small enough that a
paper-sized decoder's largest layer (32x32x32 neurons x 16 steps) stays within a few hundred MB."""


def _device(device: str | torch.device) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise SimulationError(f"device={device!r} is not a torch device; use 'cpu' or 'cuda'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SimulationError("device='cuda' but no CUDA GPU is available; use device='cpu'")
    return device


def device_inputs(network: NetworkRecord, data: np.ndarray, precision: str) -> np.ndarray:
    """The input values as Lava's first synapse receives them: fixed point direct input as ``round(64 x)``.

    ``data`` is float64 ``[N, *input_shape, T]`` from :func:`~neurovae.simulate.result.check_inputs`; the
    rounding is numpy's (half to even) and the int32 cast is Lava's source buffer's. A bias-driven input
    (``input_encoding='bias'``) is returned as it is: the input neurons' transform applies to the values.
    """
    if precision != "fixed" or network.input_encoding == "bias":
        return data
    scale = 2**GRADED_EXP if network.input_encoding == "direct" else 1
    return np.round(data * scale).astype(np.int32).astype(np.float64)


def run_emulator(
    network: NetworkRecord | str | os.PathLike,
    inputs: np.ndarray,
    precision: str = "float",
    record_voltage: bool = False,
    batch_size: int = DEFAULT_BATCH,
    device: str | torch.device = "cpu",
    progress: bool = True,
    steps: int | None = None,
    record_layers: Collection[int] | None = None,
    schedule: ResetSchedule | None = None,
) -> SimulationResult:
    """Run N samples through a netx network in batches, bit-exact with Lava ``fixed_pt`` (equal to ``floating_pt``).

    Args:
        network: a record or a netx file path.
        inputs: ``[N, *input_shape, T]`` (CHW input shape): 0/1 spikes, or real values for
            ``input_encoding='direct'``; or ``[N, *input_shape]`` with ``steps=T`` (repeated every step).
        precision: ``float`` (as Lava ``floating_pt``, float64) or ``fixed`` (as ``fixed_pt``; whole-number
            parameters).
        record_voltage: also return every spiking layer's voltage at every step.
        batch_size: samples per batch.
        device: torch device (``cpu``, ``cuda``...).
        progress: show a tqdm progress bar over samples.
        steps: T, required when ``inputs`` has no time axis.
        record_layers: indices of the spiking layers whose spikes to keep (None: all); the last spiking layer's
            readout voltage is always kept. Keeping fewer saves memory on large runs.
        schedule: lava-dl netx's reset schedule (see :mod:`neurovae.simulate.schedule`): the samples then run
            back to back as one continuous run, as netx runs them, and each layer is zeroed at its own steps of
            the schedule (None: every sample is a fresh network).

    Returns:
        The same record as :func:`neurovae.simulate.run_lava`, with ``backend='emulator'``.

    Each batch runs layer by layer: one synapse call (a matrix product or convolution over all samples and
    steps of the batch), then the LIF steps. On a CPU that other programs keep busy, ``torch.set_num_threads(1)``
    is often several times faster than more threads, whose OpenMP barriers at every elementwise step stall.

    Raises:
        SimulationError: for inputs that do not fit the network, an unknown precision or device, parameters
            that fixed point cannot represent, or a layer type the emulator does not run.
    """
    start = time.perf_counter()
    record = load_network(network)
    check_precision(record, precision)
    data = check_inputs(record, inputs, steps)
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise SimulationError(f"batch_size={batch_size!r} must be a positive whole number")
    target = _device(device)
    data = device_inputs(record, data, precision)
    keep = tuple(record.spiking_layers if record_layers is None else record_layers)
    unknown = sorted(set(keep) - set(record.spiking_layers))
    if not keep or unknown:
        raise SimulationError(f"record_layers {unknown} are not spiking layers; choose from "
                              f"{list(record.spiking_layers)}")
    plan = compile_network(record, precision, target, input_bound=float(np.max(np.abs(data), initial=0.0)))
    if schedule is not None:
        return _run_scheduled(record, plan, data, schedule, keep, record_voltage, progress, start)
    samples, window = data.shape[0], data.shape[-1]
    shapes = dict(zip(range(len(record.layers)), record.shapes, strict=True))
    spikes = {i: np.empty((samples, *shapes[i], window), dtype=bool) for i in keep}
    voltages = {i: np.empty((samples, *shapes[i], window)) for i in plan.spiking} if record_voltage else {}
    readout = np.empty((samples, *shapes[plan.spiking[-1]]))
    time_last = (data.ndim - 1,) + tuple(range(data.ndim - 1))  # [N, *shape, T] -> [T, N, *shape]
    with torch.inference_mode(), sample_bar(samples, progress, f"emulator {precision}") as bar:
        for first in range(0, samples, int(batch_size)):
            chunk = slice(first, min(first + int(batch_size), samples))
            frames = torch.from_numpy(np.ascontiguousarray(data[chunk].transpose(time_last))).to(target)
            out = run_batch(plan, frames, record_spikes=keep, record_voltage=record_voltage)
            for index, array in out.spikes.items():
                spikes[index][chunk] = _samples_first(array)
            for index, array in out.voltages.items():
                voltages[index][chunk] = _samples_first(array)
            readout[chunk] = out.readout.cpu().numpy()
            bar.update(chunk.stop - chunk.start)
    return SimulationResult(spikes=spikes, readout_voltage=readout, readout=record.readout, precision=precision,
                            backend="emulator", wall_s=time.perf_counter() - start, voltages=voltages)


def _run_scheduled(record: NetworkRecord, plan: Plan, data: np.ndarray, schedule: ResetSchedule,
                   keep: tuple[int, ...], record_voltage: bool, progress: bool, start: float) -> SimulationResult:
    """All samples back to back as one run of ``N * T`` steps under ``schedule``, split back into samples.

    The readout is the last layer's voltage at the last step of every sample's ``T`` steps.
    """
    samples, window = data.shape[0], data.shape[-1]
    timeline = np.moveaxis(data, -1, 1).reshape(samples * window, 1, *data.shape[1:-1])  # [N*T, 1, *shape]
    last = plan.spiking[-1]
    voltage_layers = plan.spiking if record_voltage else (last,)
    with torch.inference_mode(), sample_bar(samples, progress, f"emulator {plan.precision}, netx schedule") as bar:
        out = run_batch(plan, torch.from_numpy(np.ascontiguousarray(timeline)).to(plan.device), record_spikes=keep,
                        record_voltage=voltage_layers, schedule=schedule)
        bar.update(samples)

    def split(array: torch.Tensor) -> np.ndarray:  # [N*T, 1, *shape] -> [N, *shape, T]
        values = array.reshape(samples, window, *array.shape[2:]).cpu().numpy()
        return np.moveaxis(values, 1, -1)

    spikes = {i: split(out.spikes[i]) for i in keep}
    volts = {i: split(out.voltages[i]) for i in voltage_layers}
    readout = volts[last][..., -1]
    return SimulationResult(spikes=spikes, readout_voltage=readout, readout=record.readout, precision=plan.precision,
                            backend="emulator", wall_s=time.perf_counter() - start,
                            voltages=volts if record_voltage else {})


def _samples_first(array: torch.Tensor) -> np.ndarray:
    """``[T, B, *shape]`` -> numpy ``[B, *shape, T]``."""
    return array.permute(*range(1, array.dim()), 0).cpu().numpy()
