"""``neurovae export --lava``, ``neurovae inspect`` and ``neurovae run``: from a trained run to Lava."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurovae.cli.common import add_data_argument, add_force_argument, check_output

PARTS = ("encoder", "decoder", "full")
EMULATOR_FROM = 64
"""``neurovae run`` uses the emulator by default from this many samples on (Lava takes seconds per sample)."""


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``export``, ``inspect`` and ``run``."""
    export = commands.add_parser("export", help="write a trained model as lava-dl netx HDF5")
    export.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="run directory or its checkpoint.pt")
    export.add_argument("--lava", action="store_true", required=True, help="netx HDF5 for Lava (the only format)")
    export.add_argument("--part", choices=PARTS, default="decoder",
                        help="which part (full: PREFIX-encoder.net and PREFIX-decoder.net)")
    export.add_argument("-o", "--out", required=True, help="output .net file (for --part full: a path prefix)")
    export.add_argument("--precision", choices=("float", "fixed"), default="float",
                        help="fixed: Loihi's integer formats (8-bit weights with a scale per layer, 13-bit biases, "
                             "17-bit thresholds, 12-bit decays); see neurovae.export.quantize")
    export.add_argument("--weight-scale", type=float, metavar="S",
                        help="with --precision fixed: one scale (device units per training unit) for every layer "
                             "instead of the automatic per-layer scales")
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
    run.add_argument("--precision", choices=("float", "fixed"), default="float")
    run.add_argument("--steps", type=int, help="time steps per sample (default: the file's T (a SLAYER file's "
                     "simulation/tSample) plus the layers' latency, or the reset interval)")
    add_reset_arguments(run)
    run.add_argument("-n", "--samples", type=int, default=16, help="number of samples (default 16)")
    run.add_argument("--seed", type=int, default=0)
    add_data_argument(run)
    run.add_argument("-o", "--out", default="lava_run.npz",
                     help="output .npz (for image outputs, a .png grid is written beside it)")
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


def export_paths(out: str, part: str) -> dict[str, Path]:
    """Output file per part: ``out`` itself, or ``PREFIX-encoder.net`` / ``PREFIX-decoder.net`` for full."""
    if part != "full":
        return {part: Path(out)}
    prefix = Path(out).with_suffix("") if Path(out).suffix == ".net" else Path(out)
    return {name: prefix.parent / f"{prefix.name}-{name}.net" for name in ("encoder", "decoder")}


def run_export(args: argparse.Namespace) -> int:
    """Export one part (or both) of a trained run; a fixed-point export also prints how each layer was quantized."""
    from neurovae.config import config_to_dict
    from neurovae.export import ExportError, export_model, format_report, quantize_with_report
    from neurovae.export.quantize import QuantizationError
    from neurovae.netx import write_netx
    from neurovae.train.checkpoint import open_run, restore_state
    from neurovae.train.loop import build_model

    if args.weight_scale is not None and args.precision != "fixed":
        raise ExportError("--weight-scale sets the fixed-point scale: add --precision fixed")
    check_output(*export_paths(args.out, args.part).values(), force=args.force)
    paths, config, state = open_run(args.run)
    model = build_model(config)
    restore_state(paths.checkpoint, model, None, state, f"was {paths.config} edited after training?")
    model.eval()
    networks = {}  # every part is exported (and quantized) before any file is written
    for part, path in export_paths(args.out, args.part).items():
        network = export_model(model, part, model_config=config_to_dict(config))
        if args.precision == "fixed":
            try:
                network, rows = quantize_with_report(network, scale=args.weight_scale)
            except QuantizationError as error:
                raise ExportError(f"{part}: {error}") from None
            print(format_report(rows))
        networks[path] = (part, network)
    for path, (part, network) in networks.items():
        write_netx(network, path)
        print(f"wrote {path}: {part}, {len(network.layers)} layers, precision {network.precision}")
    return 0


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
                            schedule=reset_schedule(args))
    print(report)
    return 0
