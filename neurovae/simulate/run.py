"""Run netx networks in Lava.

:func:`run_lava` runs all samples through one compiled network; :func:`run_netx_stock` runs them through
lava-dl's own netx loader, one fresh network per sample, as a cross-check.

Lava is imported inside the functions, so importing this module costs nothing where Lava is absent.

Example:
    >>> result = run_lava("model.net", spikes, precision="fixed")  # doctest: +SKIP
    >>> result.spikes[1].shape                                      # [N, *shape, T]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from neurovae.lava_runtime import require_lava
from neurovae.netx import DenseLayer, InputNeuronLayer, NetworkRecord
from neurovae.progress import sample_bar
from neurovae.simulate.fixed import GRADED_EXP
from neurovae.simulate.result import SimulationError, SimulationResult, check_inputs, check_precision, load_network
from neurovae.simulate.schedule import ResetSchedule

CHUNK_STEPS = 512
"""Steps per ``run`` call between progress-bar updates (whole samples, at least one)."""


def run_lava(
    network: NetworkRecord | str | os.PathLike,
    inputs: np.ndarray,
    precision: str = "float",
    record_voltage: bool = False,
    progress: bool = True,
    steps: int | None = None,
    schedule: ResetSchedule | None = None,
) -> SimulationResult:
    """Run N samples through ONE compiled Lava network, each sample equal to a fresh run.

    The network is built from Lava's own ``Dense``/``Conv``/``LIFReset`` processes (and neurovae's
    ``ConvT``), with window-reset synapse models so that all neuron state and every synapse's held output is
    zero at the first step of each sample; samples are concatenated in one input buffer.

    Args:
        network: a record or a netx file path.
        inputs: ``[N, *input_shape, T]`` (CHW input shape): 0/1 spikes, or real values for
            ``input_encoding='direct'``; or ``[N, *input_shape]`` with ``steps=T`` (repeated every step).
        precision: ``float`` (Lava ``floating_pt``) or ``fixed`` (``fixed_pt``; needs whole-number parameters).
        record_voltage: also record every spiking layer's voltage at every step.
        progress: show a tqdm progress bar.
        steps: T, required when ``inputs`` has no time axis.
        schedule: lava-dl netx's reset schedule instead of fresh samples (see :mod:`neurovae.simulate.schedule`).

    Returns:
        Per-layer spikes ``[N, *shape, T]``, the readout voltage, and optional voltages.

    Raises:
        SimulationError: (a NeurovaeError) for inputs that do not fit the network, non-positive steps, an
            unknown precision, or parameters that fixed point cannot represent.
    """
    start = time.perf_counter()
    record = load_network(network)
    check_precision(record, precision)
    data = check_inputs(record, inputs, steps)
    require_lava()
    from lava.magma.core.run_conditions import RunSteps

    from neurovae.simulate import graph as lava_graph
    from neurovae.simulate.recorders import load_record

    samples, window = data.shape[0], data.shape[-1]
    direct = record.input_encoding == "direct"
    if record.input_encoding == "bias":
        data = data[..., :1]  # one bias per sample
    elif precision == "fixed":
        scale = 2**GRADED_EXP if direct else 1
        data = np.round(data * scale).astype(np.int32)
    frames = lava_graph.to_lava(data, len(record.input_shape))
    config = lava_graph.run_config(precision)
    chunk = max(1, CHUNK_STEPS // window)
    with tempfile.TemporaryDirectory(prefix="neurovae-lava-") as folder:
        built = lava_graph.build_graph(record, frames, samples, window, precision, direct, record_voltage,
                                       Path(folder), schedule)
        try:
            with sample_bar(samples, progress, f"lava {precision}") as bar:
                done = 0
                while done < samples:
                    count = min(chunk, samples - done)
                    built.source.run(condition=RunSteps(num_steps=count * window), run_cfg=config)
                    done += count
                    bar.update(count)
        finally:
            built.source.stop()
        scale = 2.0**lava_graph.FIXED_STATE_EXP if precision == "fixed" else 1.0

        def load(index: int, path: Path, length: int) -> np.ndarray:
            return built.to_chw(index, load_record(path), samples, length)

        spikes = {i: load(i, path, window) != 0 for i, path in built.spike_files.items()}
        voltages = {i: load(i, path, window) / scale for i, path in built.voltage_files.items()}
        readout = load(max(built.neurons), built.readout_file, 1)[..., 0] / scale
    return SimulationResult(spikes=spikes, readout_voltage=readout, readout=record.readout, precision=precision,
                            backend="neurovae", wall_s=time.perf_counter() - start, voltages=voltages)


def run_netx_stock(
    path: str | os.PathLike,
    inputs: np.ndarray,
    progress: bool = True,
    steps: int | None = None,
    schedule: ResetSchedule | None = None,
    record_voltage: bool = False,
) -> SimulationResult:
    """Run inputs through lava-dl's stock ``netx.hdf5.Network`` (fixed point), as lava-dl's own examples do.

    Without a schedule every sample runs in a fresh network, so no reset machinery is involved at all: an
    independent cross-check of :func:`run_lava`. With one, all samples run back to back in ONE network built
    with ``reset_interval`` and ``reset_offset``. A bias-driven input layer (an Input block with neurons) gets
    each sample's bias in ``bias_mant``: set before a fresh network runs, or by Lava's ``StateDataloader``.

    Args:
        path: a netx file whose layers stock netx loads (input, dense, conv, flatten).
        inputs: ``[N, *input_shape, T]`` 0/1 spikes or bias-driving values (or ``[N, *input_shape]`` with
            ``steps``).
        progress: show a tqdm progress bar.
        steps: T, required when ``inputs`` has no time axis.
        schedule: netx's reset schedule (None: a fresh network per sample).
        record_voltage: also record every layer's voltage at every step.

    Returns:
        The same record as :func:`run_lava` (``precision='fixed'``, ``backend='netx'``).
    """
    start = time.perf_counter()
    record = load_network(path)
    if not isinstance(path, str | os.PathLike):
        raise SimulationError("run_netx_stock needs the path of a netx file, because stock netx reads files")
    if record.input_encoding == "direct":
        raise SimulationError("stock netx has no exact graded input for input_encoding='direct'; use run_lava")
    problems = record.stock_problems
    if problems:
        index, why = next(iter(problems.items()))
        raise SimulationError(f"stock netx cannot run layer {index} ({record.layers[index].type}): {why}; "
                              "use run_lava or the emulator instead")
    check_precision(record, "fixed")
    data = check_inputs(record, inputs, steps)
    require_lava()
    samples = data.shape[0]
    groups = [data] if schedule is not None else [data[n:n + 1] for n in range(samples)]
    runs = []
    with sample_bar(samples, progress, "netx stock") as bar, tempfile.TemporaryDirectory() as folder:
        for group in groups:
            runs.append(_stock_run(Path(path), record, group, schedule, record_voltage, Path(folder)))
            bar.update(len(group))
    layers = record.spiking_layers
    return SimulationResult(spikes={i: np.concatenate([r[0][i] for r in runs]) for i in layers},
                            readout_voltage=np.concatenate([r[2] for r in runs]), readout=record.readout,
                            precision="fixed", backend="netx", wall_s=time.perf_counter() - start,
                            voltages={i: np.concatenate([r[1][i] for r in runs]) for i in runs[0][1]})


def _stock_run(path: Path, record: NetworkRecord, data: np.ndarray, schedule: ResetSchedule | None,
               record_voltage: bool, folder: Path) -> tuple[dict, dict, np.ndarray]:
    """One stock ``netx.hdf5.Network`` over ``data`` ``[n, *input_shape, T]``: (spikes, voltages, readout)."""
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import Read
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from neurovae.simulate import graph as lava_graph
    from neurovae.simulate import recorders

    samples, window = data.shape[0], data.shape[-1]
    total = samples * window
    reset = {} if schedule is None else {"reset_interval": schedule.interval, "reset_offset": schedule.offset}
    net = Network(net_config=str(path), **reset)
    first = record.layers[0]
    if isinstance(first, InputNeuronLayer):
        biases = first.input_bias(np.moveaxis(lava_graph.to_lava(data[..., :1], data.ndim - 2), -1, 0), "fixed")
        net.in_layer.neuron.bias_mant.init = biases[0].astype(np.int32)
        if samples > 1:
            lava_graph.bias_loader(biases.astype(np.int32), window).connect_var(net.in_layer.neuron.bias_mant)
    else:
        frame = data.astype(np.int32)
        if len(net.inp.shape) == 1:  # an image input flattened before a dense layer: C-order, as torch
            frame = frame.reshape(samples, -1, window)
        Source(data=lava_graph.to_lava(frame, frame.ndim - 2)).s_out.connect(net.inp)
    spike_files, voltage_files = [], []
    for order, block in enumerate(net.layers):
        sink = Sink(shape=block.out.shape, buffer=1)
        spike_files.append(folder / f"{id(data)}_{order}_spikes.npy")
        recorders.attach_record(sink, spike_files[-1], block.out.shape, total, np.int8)
        block.out.connect(sink.a_in)
        if record_voltage or order == len(net.layers) - 1:
            reader = Read(buffer=1)
            reader.connect_var(block.neuron.v)
            voltage_files.append(folder / f"{id(data)}_{order}_voltage.npy")
            recorders.attach_record(reader, voltage_files[-1], block.neuron.v.shape, total, np.float64)
    models = {Sink: recorders.FileSinkFixed, Read: recorders.FileReadFixed}
    try:
        net.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag="fixed_pt",
                                                                          exception_proc_model_map=models))
    finally:
        net.stop()

    def load(index: int, file: Path) -> np.ndarray:
        flat = isinstance(record.layers[index], DenseLayer)
        return lava_graph.to_chw(recorders.load_record(file), record.shapes[index], flat, samples, window)

    scale = 2.0**lava_graph.FIXED_STATE_EXP
    layers = record.spiking_layers
    spikes = {i: load(i, file) != 0 for i, file in zip(layers, spike_files, strict=True)}
    volts = {i: load(i, file) / scale for i, file in zip(layers[len(layers) - len(voltage_files):], voltage_files,
                                                           strict=True)}
    readout = volts[layers[-1]][..., -1]
    return spikes, (volts if record_voltage else {}), readout
