"""``neurovae energy``: count a network's operations on a backend and price them on a chip and as an ANN."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from neurovae.cli.common import (
    add_data_argument,
    add_force_argument,
    add_out_argument,
    add_precision_argument,
    add_samples_argument,
    check_output,
)
from neurovae.cli.deploy import add_reset_arguments, reset_schedule

PARTS = ("encoder", "decoder", "full")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``energy``."""
    energy = commands.add_parser(
        "energy", help="count spikes and synaptic operations, and estimate energy per image (chip vs ANN)",
        description="Counts per layer and per sample (input events, synaptic operations with exact convolution "
                    "borders, active/inactive membrane updates, spikes, sparsity) from a PyTorch, Lava or emulator "
                    "run, priced with the per-operation energies of a profile (shipped: neurovae/profiles/energy/"
                    "*.yaml); writes a JSON report and a PNG bar plot.")
    energy.add_argument("targets", nargs="+", metavar="NET_OR_RUN",
                        help="netx file (two: encoder then decoder, with host sampling in between), or a run "
                             "directory / checkpoint (with --part; needed for --backend torch)")
    energy.add_argument("--input", required=True, metavar="SPEC",
                        help="dataset[:NAME[:SPLIT]] | prior[:SEED] | FILE.npy  (as neurovae run)")
    energy.add_argument("--backend", choices=("torch", "lava", "emulator"), default="emulator",
                        help="where the spikes come from: the snnTorch model, the Lava simulator or the emulator "
                             "(equal counts; default emulator)")
    add_precision_argument(energy, help="float: floating point; fixed: Loihi's integer arithmetic (default float)")
    energy.add_argument("--part", choices=PARTS, default="full",
                        help="with a run: which part to count (full: encoder then decoder)")
    add_samples_argument(energy, default=64, help="number of samples (default 64)")
    energy.add_argument("--steps", type=int, help="time steps per sample of a static input (default: the file's "
                        "T plus the layers' latency, or the reset interval)")
    add_reset_arguments(energy)
    energy.add_argument("--batch-size", type=int, metavar="B", help="samples counted at a time (default 64 on "
                        "torch and the emulator, all at once on Lava); under torchrun the processes share the batches")
    energy.add_argument("--seed", type=int, default=0, help="seed of prior / host-side sampling")
    energy.add_argument("--profile", default="loihi1",
                        help="spiking energy profile: name in neurovae/profiles/energy/ or YAML path (default loihi1)")
    energy.add_argument("--ann-profile", default="ann_horowitz2014", help="ANN baseline profile")
    add_data_argument(energy)
    add_out_argument(energy, default="energy.json", help="JSON report (a .png plot is written beside it; default "
                     "energy.json)")
    add_force_argument(energy)
    energy.add_argument("--no-progress", action="store_true")
    energy.set_defaults(handler=run_energy)


def _networks_from_run(run: str, part: str, precision: str, backend: str):
    """Export the run's parts in memory; return (names, networks, snnTorch stacks in float64)."""
    from neurovae.config import config_to_dict
    from neurovae.export import export_model
    from neurovae.runs import load_run

    model, config = load_run(run)
    model = model.double()  # float64: the precision Lava floating_pt and the emulator compute in
    names = ["encoder", "decoder"] if part == "full" else [part]
    networks = [export_model(model, name, config_to_dict(config), precision="float" if backend == "torch"
                             else precision) for name in names]
    stacks = [model.deployable_parts()[name][0] for name in names]
    return [f"{Path(run).name}:{name}" for name in names], networks, stacks


def run_energy(args: argparse.Namespace) -> int:
    """Count, price, print the table and write the JSON + PNG report."""
    from neurovae.energy import energy_reports, load_profile, write_reports
    from neurovae.netx import read_netx
    from neurovae.simulate import SimulationError
    from neurovae.simulate.host import resolve_input

    if args.samples < 1:
        raise SimulationError(f"-n {args.samples}: give a positive number of samples")
    if args.batch_size is not None and args.batch_size < 1:
        raise SimulationError(f"--batch-size {args.batch_size}: give a positive number of samples")
    if args.steps is not None and args.steps < 1:
        raise SimulationError(f"--steps {args.steps}: give a positive number of time steps")
    check_output(args.out, Path(args.out).with_suffix(".png"), force=args.force)
    spiking, ann = load_profile(args.profile), load_profile(args.ann_profile)  # a bad file fails before any run
    if len(args.targets) == 1 and not args.targets[0].endswith(".net"):
        names, networks, stacks = _networks_from_run(args.targets[0], args.part, args.precision, args.backend)
    else:
        if args.backend == "torch":
            raise SimulationError("--backend torch runs the trained snnTorch model: give the run directory "
                                  "(neurovae energy RUN --part decoder ...) instead of .net files")
        if len(args.targets) > 2:
            raise SimulationError("give one netx file, or two (encoder then decoder)")
        names, networks, stacks = list(args.targets), [read_netx(path) for path in args.targets], None
    inputs = resolve_input(args.input, networks[0], args.samples, args.seed, args.data)
    reports = energy_reports(names, networks, inputs, backend=args.backend, precision=args.precision,
                             spiking=spiking, ann=ann, stacks=stacks, seed=args.seed,
                             progress=not args.no_progress, steps=args.steps, schedule=reset_schedule(args),
                             batch_size=args.batch_size)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports for the group
        return 0
    for report in reports:
        print(report.table())
        print()
    json_path, png_path = write_reports(reports, args.out)
    print(f"wrote {json_path} and {png_path}")
    return 0
