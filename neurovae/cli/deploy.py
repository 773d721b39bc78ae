"""``neurovae export --lava|--nir``, ``neurovae inspect`` and ``neurovae run``: from a trained run to Lava (and NIR)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from neurovae.cli.common import (
    add_data_argument,
    add_force_argument,
    add_out_argument,
    add_precision_argument,
    add_samples_argument,
    check_output,
)

if TYPE_CHECKING:
    from neurovae.netx import NetworkRecord
    from neurovae.simulate.pipeline import RunReport

PARTS = ("encoder", "decoder", "full")
EMULATOR_FROM = 64
"""``neurovae run`` uses the emulator by default from this many samples on (Lava takes seconds per sample)."""


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``export``, ``inspect`` and ``run``."""
    export = commands.add_parser("export", help="write a trained model (or a NIR graph) as lava-dl netx HDF5, "
                                 "or a model (or a netx file) as a NIR graph")
    export.add_argument("run", metavar="SOURCE", help="run directory or its checkpoint.pt; with --lava also a NIR "
                        "graph (.nir), with --nir also a netx file (.net)")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--lava", action="store_true", help="netx HDF5 for Lava and the emulator")
    target.add_argument("--nir", action="store_true", help="a NIR graph (Neuromorphic Intermediate Representation: "
                        "snnTorch, Norse, Sinabs, Rockpool ...); see neurovae.export.to_nir")
    export.add_argument("--part", choices=PARTS, help="which part of a run (default: decoder; full: "
                        "PREFIX-encoder and PREFIX-decoder files)")
    export.add_argument("-o", "--out", required=True, help="output .net / .nir file (for --part full: a path prefix)")
    export.add_argument("--precision", choices=("float", "fixed"), default="float",
                        help="--lava only; fixed: Loihi's integer formats (8-bit weights with a scale per layer, "
                             "13-bit biases, 17-bit thresholds, 12-bit decays); see neurovae.export.quantize")
    export.add_argument("--weight-scale", type=float, metavar="S",
                        help="with --precision fixed: one scale (device units per training unit) for every layer "
                             "instead of the automatic per-layer scales")
    export.add_argument("--dt", type=float, metavar="SECONDS",
                        help="NIR time step, for --lava GRAPH.nir (default: the graph's metadata, else 1e-4, "
                             "snnTorch's) and --nir (default 1e-4); see neurovae.export.from_nir")
    add_force_argument(export)
    export.set_defaults(handler=run_export)

    inspect = commands.add_parser("inspect", help="summarize a netx file: layers, neurons, cores needed")
    inspect.add_argument("net", help="netx HDF5 file")
    inspect.add_argument("--target", default="loihi2_sim_fixed", help="target profile for the core count")
    inspect.set_defaults(handler=run_inspect)

    run = commands.add_parser("run", help="run a netx network (or encoder + decoder) in the Lava simulator")
    run.add_argument("nets", nargs="+", metavar="NET", help="netx file; two files = encoder then decoder, "
                     "with Poisson sampling of the latent on the host in between")
    run.add_argument("--input", required=True, metavar="SPEC",
                     help="dataset[:NAME[:SPLIT]] | prior[:SEED] | FILE.npy  (see neurovae.simulate.host)")
    run.add_argument("--backend", choices=("lava", "netx", "emulator"),
                     help="lava: neurovae's Lava graph; netx: lava-dl's stock netx Network (fixed point only); "
                     f"emulator: the batched PyTorch emulator, equal to Lava (default: emulator for -n >= "
                     f"{EMULATOR_FROM}, else lava)")
    add_precision_argument(run, help="float: floating point; fixed: Loihi's integer arithmetic (default float)")
    run.add_argument("--steps", type=int, help="time steps per sample (default: the file's T (a SLAYER file's "
                     "simulation/tSample) plus the layers' latency, or the reset interval)")
    add_reset_arguments(run)
    run.add_argument("--batch-size", type=int, default=64, metavar="B",
                     help="samples simulated and written to disk at a time (default 64; memory grows with it, not "
                     "with -n); under torchrun the processes share the batches")
    add_samples_argument(run, default=16, help="number of samples (default 16)")
    run.add_argument("--seed", type=int, default=0)
    add_data_argument(run)
    add_out_argument(run, default="lava_run.npz", help="output .npz (for image outputs, a .png grid is written "
                     "beside it; default lava_run.npz)")
    run.add_argument("--voltages", action="store_true", help="also record every layer's voltages")
    add_force_argument(run)
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(handler=run_network)


def add_reset_arguments(parser: argparse.ArgumentParser) -> None:
    """``--reset-interval N [--reset-offset K]``: lava-dl netx's reset schedule (see neurovae.simulate.schedule)."""
    parser.add_argument("--reset-interval", type=int, metavar="N",
                        help="run the samples back to back in one network, zeroing layer k's neurons every N steps "
                        "at step K + 1 + k, as lava-dl's netx.hdf5.Network(reset_interval, reset_offset) does "
                        "(default: every sample runs in a fresh network)")
    parser.add_argument("--reset-offset", type=int, default=0, metavar="K", help="phase of the reset schedule "
                        "(default 0)")


def reset_schedule(args: argparse.Namespace):
    """The :class:`~neurovae.simulate.schedule.ResetSchedule` the flags ask for, or None."""
    from neurovae.simulate.schedule import ResetSchedule

    if args.reset_interval is None:
        if args.reset_offset:
            from neurovae.simulate import SimulationError

            raise SimulationError("--reset-offset needs --reset-interval N")
        return None
    return ResetSchedule(args.reset_interval, args.reset_offset)


def export_paths(out: str, part: str, suffix: str = ".net") -> dict[str, Path]:
    """Output file per part: ``out`` itself, or ``PREFIX-encoder.net`` / ``PREFIX-decoder.net`` for full."""
    if part != "full":
        return {part: Path(out)}
    prefix = Path(out).with_suffix("") if Path(out).suffix == suffix else Path(out)
    return {name: prefix.parent / f"{prefix.name}-{name}{suffix}" for name in ("encoder", "decoder")}


def run_export(args: argparse.Namespace) -> int:
    """Export one part (or both) of a trained run, or convert a NIR graph / netx file; write only if all succeed.

    A fixed-point export also prints how each layer was quantized.
    """
    from neurovae.export import ExportError
    from neurovae.netx import write_netx

    source = Path(args.run)
    graph_in, netx_in = args.lava and source.suffix == ".nir", args.nir and source.suffix == ".net"
    if args.nir and (args.precision != "float" or args.weight_scale is not None):
        raise ExportError("--nir writes the float network (NIR has no fixed point); leave out --precision and "
                          "--weight-scale")
    if args.weight_scale is not None and args.precision != "fixed":
        raise ExportError("--weight-scale sets the fixed-point scale: add --precision fixed")
    if (graph_in or netx_in) and args.part is not None:
        raise ExportError(f"--part selects a part of a run; {source} is one network")
    if args.dt is not None and not (graph_in or args.nir):
        raise ExportError("--dt is the time step of a NIR graph: give --nir, or --lava with a .nir file")
    part = f"from {source.name}" if graph_in or netx_in else args.part or "decoder"
    paths = export_paths(args.out, part, ".nir" if args.nir else ".net")
    check_output(*paths.values(), force=args.force)
    outputs = [(path, name) for name, path in paths.items()]
    networks = dict(zip(outputs, _source_networks(args, source, list(paths), graph_in, netx_in), strict=True))
    # every output is computed (quantized, converted) before any file is written
    if args.nir:
        from neurovae.export.to_nir import DT, netx_to_nir, write_nir

        graphs = {key: netx_to_nir(network, dt=args.dt or DT) for key, network in networks.items()}
        for (path, name), graph in graphs.items():
            write_nir(graph, path)
            kinds = ", ".join(type(node).__name__ for node in graph.nodes.values())
            print(f"wrote {path}: {name}, {len(graph.nodes)} NIR nodes ({kinds})")
        return 0
    if args.precision == "fixed":
        networks = {key: _quantized(key[1], network, args.weight_scale) for key, network in networks.items()}
    for (path, name), network in networks.items():
        write_netx(network, path)
        print(f"wrote {path}: {name}, {len(network.layers)} layers, precision {network.precision}")
    return 0


def _source_networks(args: argparse.Namespace, source: Path, parts: list[str], graph_in: bool,
                     netx_in: bool) -> list[NetworkRecord]:
    """The float netx networks to write: one per part of a run, or the one of a NIR graph or netx file."""
    from neurovae.config import config_to_dict
    from neurovae.export import export_model
    from neurovae.export.from_nir import nir_to_netx, read_nir
    from neurovae.netx import read_netx
    from neurovae.runs import load_run

    if graph_in:
        return [nir_to_netx(read_nir(source), dt=args.dt)]
    if netx_in:
        return [read_netx(source)]
    model, config = load_run(source)
    return [export_model(model, part, model_config=config_to_dict(config)) for part in parts]


def _quantized(name: str, network: NetworkRecord, scale: float | None) -> NetworkRecord:
    """The fixed-point network; prints how each layer was quantized."""
    from neurovae.export import ExportError, format_report, quantize_with_report
    from neurovae.export.quantize import QuantizationError

    try:
        network, rows = quantize_with_report(network, scale=scale)
    except QuantizationError as error:
        raise ExportError(f"{name}: {error}") from None
    print(format_report(rows))
    return network


def run_inspect(args: argparse.Namespace) -> int:
    """Print the network summary and the core report."""
    from neurovae.netx import describe, read_netx
    from neurovae.targets import core_report, load_target

    network = read_netx(args.net)
    print(describe(network))
    print()
    print(core_report(network, load_target(args.target)))
    return 0


def run_network(args: argparse.Namespace) -> int:
    """Simulate one network, or an encoder/decoder pair with host-side sampling, and save the results."""
    from neurovae.simulate.pipeline import simulate_files

    if len(args.nets) > 2:
        from neurovae.simulate import SimulationError

        raise SimulationError("give one netx file, or two (encoder then decoder)")
    if args.samples < 1:
        from neurovae.simulate import SimulationError

        raise SimulationError(f"-n {args.samples}: give a positive number of samples")
    check_output(args.out, Path(args.out).with_suffix(".png"), force=args.force)
    backend = args.backend or ("emulator" if args.samples >= EMULATOR_FROM else "lava")
    report = simulate_files(args.nets, args.input, backend=backend, precision=args.precision,
                            steps=args.steps, count=args.samples, seed=args.seed, data_dir=args.data,
                            out=args.out, record_voltage=args.voltages, progress=not args.no_progress,
                            schedule=reset_schedule(args), batch_size=args.batch_size)
    if report.lines:  # under torchrun, rank 0 reports for the group
        print(report)
        save_run_grid(report)
    return 0


def save_run_grid(report: RunReport) -> None:
    """Draw a run's images as the PNG beside its ``.npz``: reconstructions under their inputs, or decoded images."""
    import torch

    from neurovae.evaluate.grids import save_comparison_grid, save_image_grid

    grid = report.grid
    if grid is None:
        return
    images = torch.from_numpy(grid.images).float()
    if grid.inputs is not None:
        save_comparison_grid({"input": torch.from_numpy(grid.inputs).float(), grid.label: images}, grid.path,
                             title=f"reconstructions on {grid.label}", ncol=16)
    else:
        save_image_grid(images, grid.path, title=f"decoded on {grid.label}")
    print(f"wrote {grid.path}")
