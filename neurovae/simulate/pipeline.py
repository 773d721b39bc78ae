"""``neurovae run``: netx files end to end, inputs from a SPEC, any backend, outputs streamed to .npz (and .png).

With two files (an encoder and a decoder), the encoder runs on the backend, its output is turned into latent spikes
on the host (seeded; :func:`~neurovae.simulate.host.posterior_spikes`: ESVAE's Poisson spikes at the output rates,
or FSVAE's autoregressive Bernoulli sampling from the encoder's spikes), and the decoder runs on the backend: the
whole reconstruction on the target but for the sampling (:class:`~neurovae.simulate.backends.Chain`).
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
from neurovae.simulate.backends import Backend, Chain, rounds
from neurovae.simulate.host import (
    decoded_images,
    resolve_input,
    run_steps,
)
from neurovae.simulate.result import SimulationError, SimulationResult
from neurovae.simulate.schedule import ResetSchedule
from neurovae.simulate.store import NpzStream

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

    def add(self, batch: _Timing) -> None:
        self.samples += batch.samples
        self.steps, self.wall_s = batch.steps, self.wall_s + batch.wall_s

    def line(self, path: str | os.PathLike, detail: str) -> str:
        rate = self.samples * self.steps / self.wall_s if self.wall_s > 0 else float("inf")
        return (f"{path}: {self.samples} samples x {self.steps} steps in {self.wall_s:.1f} s "
                f"({rate:.0f} steps/s{detail})")


@dataclass(frozen=True)
class GridImages:
    """The first images of a run for the PNG beside its ``.npz`` (drawn by the command line).

    Attributes:
        path: where the PNG goes.
        images: decoded images ``[n, C, H, W]`` in [-1, 1].
        label: the backend and precision that made them.
        inputs: the images they reconstruct, or None (decoded from spikes).
    """

    path: Path
    images: np.ndarray
    label: str
    inputs: np.ndarray | None = None


@dataclass(frozen=True)
class RunReport:
    """What a run did (printable lines) and the images for its grid (None: the output is no image)."""

    lines: list[str]
    grid: GridImages | None

    def __str__(self) -> str:
        return "\n".join(self.lines)


def simulate_files(paths: Sequence[str | os.PathLike], spec: str, backend: str = "lava", precision: str = "float",
                   steps: int | None = None, count: int = 16, seed: int = 0, data_dir: str | None = None,
                   out: str | os.PathLike = "lava_run.npz", record_voltage: bool = False,
                   progress: bool = True, schedule: ResetSchedule | None = None,
                   batch_size: int = STREAM_BATCH) -> RunReport:
    """Run one file (or encoder + decoder), stream its arrays to ``out`` (.npz); return what it did and images.

    The samples run ``batch_size`` at a time, each batch's arrays streamed to disk, so memory stays that of
    one batch. Under ``torchrun`` the processes share the batches (process k runs batches k, k + N, ...) and
    rank 0 gathers and writes them in order. With netx's reset ``schedule`` the samples run back to back, each
    ``steps`` steps long (default: the schedule's interval), as one batch.
    """
    if steps is not None and steps < 1:
        raise SimulationError(f"--steps {steps}: give a positive number of time steps")
    group = distributed.join(torch.device("cpu"))
    chain = Chain(list(paths), Backend(backend, precision, record_voltage, progress and group.main, schedule), seed)
    networks = chain.networks
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
    timings = [_Timing() for _ in networks]
    shown: dict[str, list[np.ndarray]] = {"inputs": [], "images": []}
    try:
        with NpzStream(out) if group.main else contextlib.nullcontext() as store:
            for index in rounds(len(starts), group):
                mine = None
                if index is not None:
                    part = inputs[starts[index]:starts[index] + size]
                    results, fed = chain(index, part, total_steps)
                    arrays = {**result_arrays(results[-1]), "inputs": part, **chain.host_arrays(results, fed)}
                    images = decoded_images(networks[-1], results[-1])
                    mine = ({**arrays, **({"images": images} if images is not None else {})},
                            [_Timing(r.samples, r.steps, r.wall_s) for r in results])
                for done in distributed.gather_objects(mine):  # rank order is batch order
                    if done is None or not group.main:
                        continue
                    arrays, batch_timings = done
                    store.add(arrays)
                    for timing, batch in zip(timings, batch_timings, strict=True):
                        timing.add(batch)
                    for key, images in shown.items():
                        if "images" in arrays:
                            images.append(arrays[key][:GRID_IMAGES - sum(map(len, images))])
    finally:
        distributed.leave(group)
    if not group.main:
        return RunReport([], None)
    lines = [timings[0].line(paths[0], f", {precision}, {backend}")]
    if len(networks) == 2:
        lines.append(timings[1].line(paths[1], ""))
    lines.append(f"wrote {store.out}")
    grid = None
    if shown["images"]:
        grid = GridImages(store.out.with_suffix(".png"), np.concatenate(shown["images"]), f"{backend} ({precision})",
                          np.concatenate(shown["inputs"]) if static and len(networks) == 2 else None)
    return RunReport(lines, grid)
