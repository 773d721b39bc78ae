"""What fixed-point quantization costs an ESVAE on Lava: per-layer spike agreement and image MSE, fixed vs float.

Usage::

    python benchmarks/quantization_cost.py RUN [-n 32] [--seed 0] [--scale S] [--detail] [--no-direct-offset]
                                               [--json FILE]

RUN is a training run (``RUN/config.yaml`` + ``RUN/checkpoint.pt``). Its encoder and decoder are exported twice:
as float (``precision='float'``, run in Lava ``floating_pt``, which equals the PyTorch model spike for spike) and
quantized to Loihi's formats (``neurovae.export.quantize``, run in Lava ``fixed_pt``). Then:

* encoder: N test images, both versions; per spiking layer the fraction of equal spike bits, the relative
  spike-count difference (fixed - float) / float and the mismatched bits per float spike;
* decoder: N latent spike trains from the prior (seeded, the same trains for both); per-layer agreement and the
  MSE between the images decoded by the fixed and the float decoder;
* reconstruction: encoder -> posterior rates -> Poisson latent spikes on the host (the same uniform draws for
  both, so the two latents differ only where the rates do) -> decoder, float chain vs fixed chain; MSE against the
  input images for both. As a yardstick, the float chain is run again with other Poisson draws of the same
  posterior rates: the image change that sampling alone causes.

Runs follow ``neurovae run``: images are shown for T + latency steps and rates taken over the last T; latent
trains get ``latency`` silent steps (``neurovae.simulate.host``).

``--detail`` also runs the quantized files in Lava ``floating_pt``: the cost of rounding the parameters alone,
without fixed-point dynamics (24-bit state with 6 fractional bits, truncating decays, graded input rounded to
1/64 and floored). ``--scale S`` quantizes with one scale for every layer instead of per-layer scales.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neurovae.config import config_to_dict  # noqa: E402
from neurovae.export import export_model, format_report, quantize_with_report  # noqa: E402
from neurovae.netx import NetworkRecord  # noqa: E402
from neurovae.simulate import SimulationResult, run_lava  # noqa: E402
from neurovae.simulate.host import (  # noqa: E402
    dataset_images,
    decoded_images,
    firing_rates,
    pad_latency,
    poisson_spikes,
    prior_spikes,
    run_steps,
)


def agreement(network: NetworkRecord, reference: SimulationResult, other: SimulationResult) -> list[dict]:
    """Per spiking layer: equal spike bits, relative spike-count difference, mismatches per reference spike."""
    rows = []
    for index in network.spiking_layers:
        a, b = reference.spikes[index], other.spikes[index]
        count_a, count_b = int(a.sum()), int(b.sum())
        readout = network.readout == "voltage" and index == network.spiking_layers[-1]
        rows.append({
            "layer": index, "type": network.layers[index].type, "readout": readout,
            "spikes_float": count_a, "spikes_fixed": count_b,
            "equal_bits": float((a == b).mean()),
            "count_diff": (count_b - count_a) / count_a if count_a else float(count_b != 0),
            "mismatch_per_spike": float((a != b).sum()) / count_a if count_a else float((a != b).sum()),
        })
    return rows


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


def table(title: str, rows: list[dict], scales: dict[int, float]) -> str:
    lines = [title, f"{'layer':>5}  {'type':<5}  {'scale':>7}  {'spikes float':>12}  {'spikes fixed':>12}  "
             f"{'equal bits':>10}  {'count diff':>10}  {'mismatch/spike':>14}"]
    for row in rows:
        if row["readout"]:
            lines.append(f"{row['layer']:>5}  {row['type']:<5}  {scales[row['layer']]:>7.4g}  "
                         f"{'(voltage readout: see the image MSE)':>54}")
            continue
        lines.append(f"{row['layer']:>5}  {row['type']:<5}  {scales[row['layer']]:>7.4g}  {row['spikes_float']:>12,}  "
                     f"{row['spikes_fixed']:>12,}  {row['equal_bits']:>10.3%}  {row['count_diff']:>+10.2%}  "
                     f"{row['mismatch_per_spike']:>14.2%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="training run directory (config.yaml + checkpoint.pt)")
    parser.add_argument("-n", "--samples", type=int, default=32, help="images and prior samples (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, help="one quantization scale for every layer (default: per layer)")
    parser.add_argument("--data", metavar="DIR", help="dataset folder (default: the run's config)")
    parser.add_argument("--detail", action="store_true", help="also run the quantized files in floating point")
    parser.add_argument("--no-direct-offset", action="store_true",
                        help="quantize without the half-unit bias offset of the direct-input first layer")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    from neurovae.train.checkpoint import open_run
    from neurovae.train.loop import build_model

    start = time.perf_counter()
    _, config, state = open_run(args.run)
    model = build_model(config)
    model.load_state_dict(state["model"])
    model.eval()
    nets: dict[str, dict[str, NetworkRecord]] = {}
    for part in ("encoder", "decoder"):
        float_net = export_model(model, part, model_config=config_to_dict(config))
        fixed_net, rows = quantize_with_report(float_net, scale=args.scale, direct_offset=not args.no_direct_offset)
        nets[part] = {"float": float_net, "fixed": fixed_net}
        print(f"{part} quantization:\n{format_report(rows)}\n")

    def run(part: str, kind: str, inputs: np.ndarray, precision: str) -> SimulationResult:
        net = nets[part][kind]
        static = inputs.ndim == len(net.input_shape) + 1  # images: shown for T + latency steps
        return run_lava(net, inputs, precision=precision, steps=run_steps(net) if static else None, progress=False)

    steps = nets["decoder"]["float"].steps
    images = dataset_images(nets["encoder"]["float"], "dataset", args.samples, args.data)
    prior = prior_spikes(nets["decoder"]["float"], args.samples, args.seed)
    results: dict[str, dict[str, SimulationResult]] = {"encoder": {}, "prior": {}, "recon": {}}
    kinds = ("float", "fixed", "fixed-in-float") if args.detail else ("float", "fixed")
    for kind in kinds:
        file_kind, precision = ("fixed", "float") if kind == "fixed-in-float" else (kind, kind)
        results["encoder"][kind] = run("encoder", file_kind, images, precision)
        results["prior"][kind] = run("decoder", file_kind, prior, precision)
        rates = firing_rates(nets["encoder"][file_kind], results["encoder"][kind])
        latent = pad_latency(nets["decoder"][file_kind],
                             poisson_spikes(rates, steps, np.random.default_rng(args.seed)))
        results["recon"][kind] = run("decoder", file_kind, latent, precision)

    # the yardstick: the float chain again with other Poisson draws of the same posterior rates
    rates = firing_rates(nets["encoder"]["float"], results["encoder"]["float"])
    redraw = pad_latency(nets["decoder"]["float"], poisson_spikes(rates, steps, np.random.default_rng(args.seed + 1)))
    resampled = decoded_images(nets["decoder"]["float"], run("decoder", "float", redraw, "float"))

    def decoded(part: str, kind: str) -> np.ndarray:
        file_kind = "fixed" if kind == "fixed-in-float" else kind
        return decoded_images(nets["decoder"][file_kind], results[part][kind])

    figures: dict = {"run": str(args.run), "samples": args.samples, "steps": steps, "scale": args.scale or "per layer"}
    for kind in kinds[1:]:
        file_kind = "fixed" if kind == "fixed-in-float" else kind
        enc = agreement(nets["encoder"]["float"], results["encoder"]["float"], results["encoder"][kind])
        dec = agreement(nets["decoder"]["float"], results["prior"]["float"], results["prior"][kind])
        rec = agreement(nets["decoder"]["float"], results["recon"]["float"], results["recon"][kind])
        scales = {p: {i: nets[p][file_kind].scale(i) for i in nets[p][file_kind].spiking_layers}
                  for p in ("encoder", "decoder")}
        label = "fixed file in Lava fixed_pt" if kind == "fixed" else "fixed file in Lava floating_pt"
        print(table(f"encoder, {args.samples} test images: {label} vs float", enc, scales["encoder"]), end="\n\n")
        print(table(f"decoder, {args.samples} prior samples: {label} vs float", dec, scales["decoder"]), end="\n\n")
        print(table(f"decoder in the reconstruction chain: {label} vs float", rec, scales["decoder"]), end="\n\n")
        rates_float = firing_rates(nets["encoder"]["float"], results["encoder"]["float"])
        rates_other = firing_rates(nets["encoder"][file_kind], results["encoder"][kind])
        image_figures = {
            "latent_rate_mae": float(np.mean(np.abs(rates_other - rates_float))),
            "prior_image_mse_vs_float": mse(decoded("prior", kind), decoded("prior", "float")),
            "recon_image_mse_vs_float": mse(decoded("recon", kind), decoded("recon", "float")),
            "recon_image_mse_poisson_redraw": mse(resampled, decoded("recon", "float")),
            "recon_mse_vs_input_float": mse(decoded("recon", "float"), images),
            "recon_mse_vs_input_quantized": mse(decoded("recon", kind), images),
        }
        growth = image_figures["recon_mse_vs_input_quantized"] / image_figures["recon_mse_vs_input_float"] - 1
        labels = {
            "latent_rate_mae": "latent firing rates, mean |fixed - float|",
            "prior_image_mse_vs_float": "decoder (prior) image MSE, fixed vs float",
            "recon_image_mse_vs_float": "reconstruction image MSE, fixed vs float",
            "recon_image_mse_poisson_redraw": "  yardstick: float vs float, other Poisson draws",
            "recon_mse_vs_input_float": "reconstruction MSE vs input images, float",
            "recon_mse_vs_input_quantized": "reconstruction MSE vs input images, quantized",
        }
        for key, label in labels.items():
            print(f"{label:<50} {image_figures[key]:.5f}")
        print(f"{'reconstruction MSE growth':<50} {growth:+.2%}\n")
        figures[kind] = {"encoder": enc, "decoder_prior": dec, "decoder_recon": rec, **image_figures,
                         "recon_mse_growth": growth}
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
