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
from neurovae.netx import DenseLayer, NetworkRecord
from neurovae.progress import sample_bar
from neurovae.simulate.result import SimulationError, SimulationResult, check_inputs, check_precision, load_network

CHUNK_STEPS = 512
"""Steps per ``run`` call between progress-bar updates (whole samples, at least one)."""


def run_lava(
    network: NetworkRecord | str | os.PathLike,
    inputs: np.ndarray,
    precision: str = "float",
    record_voltage: bool = False,
    progress: bool = True,
    steps: int | None = None,
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
    if precision == "fixed":
        scale = 2**lava_graph.GRADED_EXP if direct else 1
        data = np.round(data * scale).astype(np.int32)
    frames = lava_graph.to_lava(data, len(record.input_shape))
    config = lava_graph.run_config(precision)
    chunk = max(1, CHUNK_STEPS // window)
    with tempfile.TemporaryDirectory(prefix="neurovae-lava-") as folder:
        built = lava_graph.build_graph(record, frames, samples, window, precision, direct, record_voltage,
                                       Path(folder))
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
) -> SimulationResult:
    """Run inputs through lava-dl's stock ``netx.hdf5.Network`` (fixed point), one fresh network per sample.

    No reset machinery is involved at all, so this is an independent cross-check of :func:`run_lava`.

    Args:
        path: a netx file whose layers stock netx loads (input, dense, conv, flatten) and whose input layer
            holds only a shape.
        inputs: ``[N, *input_shape, T]`` 0/1 spikes (or ``[N, *input_shape]`` with ``steps``).
        progress: show a tqdm progress bar.
        steps: T, required when ``inputs`` has no time axis.

    Returns:
        The same record as :func:`run_lava` (``precision='fixed'``, ``backend='netx'``).
    """
    start = time.perf_counter()
    record = load_network(path)
    if not isinstance(path, str | os.PathLike):
        raise SimulationError("run_netx_stock needs the path of a netx file, because stock netx reads files")
    unsupported = [f"{i} ({layer.type})" for i, layer in enumerate(record.layers) if not record.stock_layers[i]]
    if unsupported:
        raise SimulationError(f"stock netx cannot load layer {', '.join(unsupported)}; use run_lava instead")
    if record.input_encoding == "direct":
        raise SimulationError("stock netx has no exact graded input for input_encoding='direct'; use run_lava")
    check_precision(record, "fixed")
    data = check_inputs(record, inputs, steps).astype(np.int32)
    require_lava()
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from neurovae.simulate import graph as lava_graph
    from neurovae.simulate import recorders

    samples, window = data.shape[0], data.shape[-1]

    def to_chw(index: int, array: np.ndarray, count: int, length: int) -> np.ndarray:
        flat = isinstance(record.layers[index], DenseLayer)
        return lava_graph.to_chw(array, record.shapes[index], flat, count, length)

    config = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={Sink: recorders.FileSinkFixed})
    spikes: dict[int, list[np.ndarray]] = {i: [] for i in record.spiking_layers}
    readouts = []
    with sample_bar(samples, progress, "netx stock") as bar, tempfile.TemporaryDirectory() as folder:
        for sample in range(samples):
            net = Network(net_config=str(path))
            frame = data[sample:sample + 1]
            if len(net.inp.shape) == 1:  # an image input flattened before a dense layer: C-order, as torch
                frame = frame.reshape(1, -1, window)
            source = Source(data=lava_graph.to_lava(frame, frame.ndim - 2))
            source.s_out.connect(net.inp)
            files = []
            for block in net.layers:
                sink = Sink(shape=block.out.shape, buffer=1)
                files.append(Path(folder) / f"{sample}_{len(files)}.npy")
                recorders.attach_record(sink, files[-1], block.out.shape, window, np.int8)
                block.out.connect(sink.a_in)
            try:
                net.run(condition=RunSteps(num_steps=window), run_cfg=config)
                volts = net.layers[-1].neuron.v.get()[..., None] / 2.0**lava_graph.FIXED_STATE_EXP
            finally:
                net.stop()
            for index, file in zip(record.spiking_layers, files, strict=True):
                spikes[index].append(to_chw(index, recorders.load_record(file), 1, window) != 0)
            readouts.append(to_chw(record.spiking_layers[-1], volts, 1, 1)[..., 0])
            bar.update(1)
    readout = np.concatenate(readouts)
    return SimulationResult(spikes={i: np.concatenate(s) for i, s in spikes.items()}, readout_voltage=readout,
                            readout=record.readout, precision="fixed", backend="netx",
                            wall_s=time.perf_counter() - start)
