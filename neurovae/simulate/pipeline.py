"""Run netx files end to end: inputs from a SPEC, Lava (or stock netx), outputs saved as .npz and .png.

With two files (an encoder and a decoder), the encoder runs in Lava, its output is turned into latent spikes on
the host (seeded; :func:`~neurovae.simulate.host.posterior_spikes`: ESVAE's Poisson spikes at the output rates, or
FSVAE's autoregressive Bernoulli sampling from the encoder's spikes), and the decoder runs in Lava: the whole
reconstruction on the target but for the sampling.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neurovae import distributed
from neurovae.netx import NetworkRecord, read_netx
from neurovae.simulate.host import (
    decoded_images,
    firing_rates,
    posterior_spikes,
    resolve_input,
    run_steps,
)
from neurovae.simulate.result import SimulationError, SimulationResult
from neurovae.simulate.run import run_lava, run_netx_stock
from neurovae.simulate.schedule import ResetSchedule
from neurovae.simulate.store import NpzStream


def simulate(network_path: NetworkRecord | str | os.PathLike, inputs: np.ndarray, backend: str, precision: str,
             steps: int | None, record_voltage: bool, progress: bool,
             schedule: ResetSchedule | None = None) -> SimulationResult:
    """One network on one backend (with netx's reset ``schedule``, the samples run back to back)."""
    if backend == "emulator":
        from neurovae.emulator import run_emulator

        return run_emulator(network_path, inputs, precision=precision, record_voltage=record_voltage,
                            progress=progress, steps=steps, schedule=schedule)
    if backend == "netx":
        if precision != "fixed":
            raise SimulationError("--backend netx runs stock lava-dl netx, which is fixed point only: add "
                                  "--precision fixed")
        return run_netx_stock(network_path, inputs, progress=progress, steps=steps, schedule=schedule,
                              record_voltage=record_voltage)
    return run_lava(network_path, inputs, precision=precision, record_voltage=record_voltage, progress=progress,
                    steps=steps, schedule=schedule)


STREAM_BATCH = 64
"""Samples simulated, written to disk and forgotten at a time, so that a run's memory does not grow with ``-n``."""
GRID_IMAGES = 64
"""Images shown in the PNG grid beside a run's ``.npz``."""


def result_arrays(result: SimulationResult) -> dict[str, np.ndarray]:
    """A result's arrays as the ``.npz`` stores them: per-layer spikes (and voltages) and the readout voltage."""
    arrays = {f"layer{index}_spikes": spikes for index, spikes in result.spikes.items()}
    arrays.update({f"layer{index}_voltage": v for index, v in result.voltages.items()})
    arrays["readout_voltage"] = result.readout_voltage
    return arrays


@dataclass
class _Timing:
    """Samples, steps and seconds of one network over the batches of a run, for the report line."""

    samples: int = 0
    steps: int = 0
    wall_s: float = 0.0

    def add(self, result: SimulationResult) -> None:
        self.samples += result.samples
        self.steps, self.wall_s = result.steps, self.wall_s + result.wall_s

    def line(self, path: str | os.PathLike, detail: str) -> str:
        rate = self.samples * self.steps / self.wall_s if self.wall_s > 0 else float("inf")
        return (f"{path}: {self.samples} samples x {self.steps} steps in {self.wall_s:.1f} s "
                f"({rate:.0f} steps/s{detail})")


@dataclass
class _Chain:
    """One network, or an encoder and a decoder with host sampling between, on one backend."""

    paths: Sequence[str | os.PathLike]
    networks: list[NetworkRecord]
    backend: str
    precision: str
    steps: int | None
    record_voltage: bool
    progress: bool
    schedule: ResetSchedule | None
    seed: int

    def __call__(self, index: int, inputs: np.ndarray) -> tuple[dict[str, np.ndarray], list[SimulationResult]]:
        """The arrays of batch ``index`` (the ``.npz``'s keys) and each network's result.

        The host sampling of batch ``index`` draws from a generator seeded with ``(seed, index)``: the run's
        numbers do not depend on which process runs which batch.
        """
        first = self.networks[0]
        result = simulate(self.paths[0], inputs, self.backend, self.precision, self.steps, self.record_voltage,
                          self.progress, self.schedule)
        results, extra = [result], {"inputs": inputs}
        final, final_net = result, first
        if len(self.networks) == 2:
            latent = posterior_spikes(first, self.networks[1], result, np.random.default_rng([self.seed, index]))
            final = simulate(self.paths[1], latent, self.backend, self.precision, None, self.record_voltage,
                             self.progress, self.schedule)
            final_net = self.networks[1]
            results.append(final)
            extra.update({"encoder_rates": firing_rates(first, result), "latent_spikes": latent})
        images = decoded_images(final_net, final)
        if images is not None:
            extra["images"] = images
        return {**result_arrays(final), **extra}, results


def simulate_files(paths: Sequence[str | os.PathLike], spec: str, backend: str = "lava", precision: str = "float",
                   steps: int | None = None, count: int = 16, seed: int = 0, data_dir: str | None = None,
                   out: str | os.PathLike = "lava_run.npz", record_voltage: bool = False,
                   progress: bool = True, schedule: ResetSchedule | None = None,
                   batch_size: int = STREAM_BATCH) -> str:
    """Run one file (or encoder + decoder), save ``out`` (.npz) and a PNG grid of image outputs; return a report.

    The samples run ``batch_size`` at a time, each batch's arrays streamed to disk, so memory stays that of
    one batch. Under ``torchrun`` the processes share the batches (process k runs batches k, k + N, ...) and
    rank 0 gathers and writes them in order. With netx's reset ``schedule`` the samples run back to back, each
    ``steps`` steps long (default: the schedule's interval), as one batch.
    """
    if steps is not None and steps < 1:
        raise SimulationError(f"--steps {steps}: give a positive number of time steps")
    networks = [read_netx(p) for p in paths]
    first = networks[0]
    inputs = resolve_input(spec, first, count, seed, data_dir)
    static = inputs.ndim == len(first.input_shape) + 1
    default = schedule.interval if schedule is not None else run_steps(first)
    total_steps = steps or (default if static else None)
    if static and total_steps is None:
        raise SimulationError("the input has no time axis and the file states no steps; pass --steps T")
    if batch_size < 1:
        raise SimulationError(f"--batch-size {batch_size}: give a positive number of samples")
    size = len(inputs) if schedule is not None else batch_size
    starts = list(range(0, len(inputs), size))
    group = distributed.join(torch.device("cpu"))
    chain = _Chain(paths, networks, backend, precision, total_steps, record_voltage, progress and group.main,
                   schedule, seed)
    timings = [_Timing() for _ in networks]
    shown: dict[str, list[np.ndarray]] = {"inputs": [], "images": []}
    try:
        with NpzStream(out) if group.main else contextlib.nullcontext() as store:
            for first_batch in range(0, len(starts), group.world):
                index = first_batch + group.rank
                mine = chain(index, inputs[starts[index]:starts[index] + size]) if index < len(starts) else None
                for done in distributed.gather_objects(mine):  # rank order is batch order
                    if done is None or not group.main:
                        continue
                    arrays, results = done
                    store.add(arrays)
                    for timing, result in zip(timings, results, strict=True):
                        timing.add(result)
                    for key, images in shown.items():
                        if "images" in arrays:
                            images.append(arrays[key][:GRID_IMAGES - sum(map(len, images))])
    finally:
        distributed.leave(group)
    if not group.main:
        return ""
    lines = [timings[0].line(paths[0], f", {precision}, {backend}")]
    if len(networks) == 2:
        lines.append(timings[1].line(paths[1], ""))
    lines.append(f"wrote {store.out}")
    if shown["images"]:
        grid = store.out.with_suffix(".png")
        _save_grid(grid, np.concatenate(shown["inputs"]) if static and len(networks) == 2 else None,
                   np.concatenate(shown["images"]), f"{backend} ({precision})")
        lines.append(f"wrote {grid}")
    return "\n".join(lines)


def _save_grid(path: Path, inputs: np.ndarray | None, images: np.ndarray, label: str) -> None:
    """Reconstructions under their inputs, or the decoded images alone."""
    from neurovae.evaluate.grids import save_comparison_grid, save_image_grid

    if inputs is not None:
        save_comparison_grid({"input": torch.from_numpy(inputs).float(), label: torch.from_numpy(images).float()},
                             path, title=f"reconstructions on {label}", ncol=16)
    else:
        save_image_grid(torch.from_numpy(images).float(), path, title=f"decoded on {label}")
