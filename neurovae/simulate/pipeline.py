"""Run netx files end to end: inputs from a SPEC, Lava (or stock netx), outputs saved as .npz and .png.

With two files (an encoder and a decoder), the encoder runs in Lava, its output is turned into latent spikes on
the host (seeded; :func:`~neurovae.simulate.host.posterior_spikes`: ESVAE's Poisson spikes at the output rates, or
FSVAE's autoregressive Bernoulli sampling from the encoder's spikes), and the decoder runs in Lava: the whole
reconstruction on the target but for the sampling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neurovae.io import atomic_path
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


def save_result(out: str | os.PathLike, result: SimulationResult, extra: dict[str, np.ndarray]) -> Path:
    """Write per-layer spikes (and voltages) plus ``extra`` arrays to an .npz, atomically."""
    arrays = {f"layer{index}_spikes": spikes for index, spikes in result.spikes.items()}
    arrays.update({f"layer{index}_voltage": v for index, v in result.voltages.items()})
    arrays["readout_voltage"] = result.readout_voltage
    arrays.update(extra)
    out = Path(out)
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return out


def simulate_files(paths: Sequence[str | os.PathLike], spec: str, backend: str = "lava", precision: str = "float",
                   steps: int | None = None, count: int = 16, seed: int = 0, data_dir: str | None = None,
                   out: str | os.PathLike = "lava_run.npz", record_voltage: bool = False,
                   progress: bool = True, schedule: ResetSchedule | None = None) -> str:
    """Run one file (or encoder + decoder), save ``out`` (.npz) and a PNG grid of image outputs; return a report.

    With netx's reset ``schedule`` the samples run back to back, each ``steps`` steps long (default: the
    schedule's interval).
    """
    import torch

    from neurovae.evaluate.grids import save_comparison_grid, save_image_grid

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
    result = simulate(paths[0], inputs, backend, precision, total_steps, record_voltage, progress, schedule)
    extra: dict[str, np.ndarray] = {"inputs": inputs}
    lines = [f"{paths[0]}: {result.samples} samples x {result.steps} steps in {result.wall_s:.1f} s "
             f"({result.steps_per_s:.0f} steps/s, {precision}, {result.backend})"]
    final, final_net = result, first
    if len(networks) == 2:
        latent = posterior_spikes(first, networks[1], result, np.random.default_rng(seed))
        final = simulate(paths[1], latent, backend, precision, None, record_voltage, progress, schedule)
        final_net = networks[1]
        extra.update({"encoder_rates": firing_rates(first, result), "latent_spikes": latent})
        lines.append(f"{paths[1]}: {final.samples} samples x {final.steps} steps in {final.wall_s:.1f} s "
                     f"({final.steps_per_s:.0f} steps/s)")
    images = decoded_images(final_net, final)
    if images is not None:
        extra["images"] = images
    saved = save_result(out, final, extra)
    lines.append(f"wrote {saved}")
    if images is not None:
        grid = saved.with_suffix(".png")
        if static and len(networks) == 2:
            save_comparison_grid({"input": torch.from_numpy(inputs).float(),
                                  final.backend: torch.from_numpy(images).float()},
                                 grid, title=f"reconstructions on {final.backend} ({precision})", ncol=16)
        else:
            save_image_grid(torch.from_numpy(images).float(), grid, title=f"decoded on {final.backend} ({precision})")
        lines.append(f"wrote {grid}")
    return "\n".join(lines)
