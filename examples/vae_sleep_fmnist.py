"""VAE-sleep on Fashion-MNIST (Talafha et al. 2020): CVAE, VSC and the slept CVAE, clean and noisy, per latent size.

Usage::

    python examples/vae_sleep_fmnist.py [--out DIR] [--latent-sizes 16 64 200] [--paper-config] [--epochs N]
                                        [--train-images N] [--test-images N] [--probe-images N]
                                        [--sleep-batch B] [--sleep-duration N] [--closest-of K] [--data DIR]

For every latent size it trains (or resumes) a CVAE and a VSC from ``configs/cvae_fmnist_small.yaml`` and
``configs/vsc_fmnist_small.yaml`` (``--paper-config``: ``cvae_fmnist.yaml``, ``vsc_fmnist.yaml``) with the sizes
overridden (runs already in ``--out``, ``cvae-latent200`` and so on, are resumed), and sleeps the CVAE three
times: batched PyTorch with Table 3's thresholds ("cvae-sleep") and with thresholds tuned so that each layer
fires at Table 3's target rate rho ("cvae-sleep-rho"), and as Loihi runs it, in 8-bit fixed point with every
synapse of the lowered convolutions learning on its own (the emulator, bit-exact with Lava ``fixed_pt``;
"cvae-sleep-loihi"). On the test set it measures PSNR / SSIM of the
reconstructions from the clean latent code and from the code plus standard normal noise (the paper's noisy test
set), the same for the closest of K posterior samples per test image (the paper's protocol), and the accuracy
of a linear probe on the codes (clean and noisy, each probe fitted on training codes with the same noise; the
paper's Fig. 2). LPIPS is left out: it needs pretrained VGG/AlexNet weights, which are not downloaded here.
Each latent size's figures go to ``results-latent<N>.json`` as soon as they are measured; ``results.json``,
``results.md`` (a table per size, beside the paper's Table 4) and ``latent_sizes.png`` then cover every size
measured in ``--out``, so sizes can be measured in separate invocations (``--latent-sizes`` with no size
only gathers them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import neurovae  # noqa: E402
from neurovae.evaluate.latent_noise import closest_sample_metrics, latent_codes, noisy_metrics  # noqa: E402
from neurovae.evaluate.psnr_variants import DEFINITIONS, mean_image_variants  # noqa: E402
from neurovae.io import atomic_path  # noqa: E402

PAPER = {  # Talafha 2020, Table 4, Fashion-MNIST: (PSNR dB, SSIM) clean and noisy
    "cvae": (30.30, 0.590, 21.65, 0.430),
    "vsc": (30.55, 0.760, 26.97, 0.680),
    "cvae-sleep": (31.07, 0.800, 28.97, 0.710),
    "cvae-sleep-rho": (31.07, 0.800, 28.97, 0.710),
    "cvae-sleep-loihi": (31.07, 0.800, 28.97, 0.710),
}
MODELS = tuple(PAPER)
SLEEPS = {  # name -> (backend, precision, thresholds tuned to the target rate rho)
    "cvae-sleep": ("torch", "float", False),
    "cvae-sleep-rho": ("torch", "float", True),
    "cvae-sleep-loihi": ("emulator", "fixed", False),
}


def trained(model_name: str, latent: int, args: argparse.Namespace):
    """Train (or resume to ``--epochs``) one model at one latent size; returns (model, config, epochs trained)."""
    overrides = {"model.latent_dim": latent, "train.epochs": args.epochs, "data.train_limit": args.train_images,
                 "train.device": "cpu"}
    variant = "" if args.paper_config else "_small"
    config = neurovae.load_config(f"{model_name}_fmnist{variant}", overrides)
    run = args.out / f"{model_name}-latent{latent}"
    neurovae.train_model(config, str(run), neurovae.open_dataset(config, "train", args.data, args.train_images),
                         resume=True, progress=False)
    model, config = neurovae.load_run(run)
    return model, config, config.train.epochs  # train() returned: the run has trained every epoch


def measure(args: argparse.Namespace, latent: int) -> dict:
    """One latent size: per model, clean / noisy PSNR, SSIM and probe accuracy, plus the sleeps' summaries.

    Seeded by the latent size, so a size gives the same figures whether it is measured alone or with others.
    """
    torch.manual_seed(latent)
    cvae, config, epoch = trained("cvae", latent, args)
    vsc, _, _ = trained("vsc", latent, args)
    train_set = neurovae.open_dataset(config, "train", args.data, args.train_images)
    images = torch.stack([train_set[i][0] for i in range(len(train_set))])
    sleep_config = neurovae.table3_config(config.data.dataset, batch=args.sleep_batch,
                                 **({"duration": args.sleep_duration} if args.sleep_duration else {}))
    models, results = {"cvae": cvae, "vsc": vsc}, {"epochs": epoch, "sleep": {}}
    for name, (backend, precision, calibrate) in SLEEPS.items():
        slept, summary = neurovae.sleep_model(cvae, images, sleep_config, backend, calibrate=calibrate,
                                              precision=precision)
        neurovae.save_slept_run(args.out / f"{name}-latent{latent}", config, slept, epoch, summary,
                                source=args.out / f"cvae-latent{latent}")
        models[name] = slept.eval()
        results["sleep"][name] = summary
    probe_set = neurovae.open_dataset(config, "train", args.data, args.probe_images)
    test_set = neurovae.open_dataset(config, "test", args.data, args.test_images)
    results["mean-image"] = mean_image_variants(torch.stack([image for image, _ in probe_set]),
                                                torch.stack([image for image, _ in test_set]))
    for name, model in models.items():
        test_codes = latent_codes(model, test_set)
        metrics = noisy_metrics(model, latent_codes(model, probe_set), test_codes)
        if args.closest_of:
            metrics |= closest_sample_metrics(model, test_codes["images"], args.closest_of)
        results[name] = metrics
        print(f"latent {latent} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()), flush=True)
    return results


def measured_sizes(out: Path) -> dict:
    """Every ``results-latent*.json`` in ``out`` as ``{model: {latent: metrics}}`` (earlier invocations included)."""
    results: dict = {}
    for path in sorted(out.glob("results-latent*.json")):
        latent = int(path.stem.removeprefix("results-latent"))
        for name, value in json.loads(path.read_text())["results"].items():
            results.setdefault(name, {})[latent] = value
    return results


def table(results: dict, latent: int) -> str:
    """Markdown: measured PSNR / SSIM beside the paper's Table 4 (Fashion-MNIST)."""
    closest = "psnr_closest_clean" in results[MODELS[0]][latent]
    extra = " closest-of-K clean | closest-of-K noisy |" if closest else ""
    lines = ["| model | PSNR clean | SSIM clean | PSNR noisy | SSIM noisy |" + extra + " probe clean | probe noisy |"
             " paper PSNR / SSIM clean | paper PSNR / SSIM noisy |", "|" + " --- |" * (11 if closest else 9)]
    for name in MODELS:
        m, p = results[name][latent], PAPER[name]
        cells = [f"{m['psnr_clean']:.2f} dB", f"{m['ssim_clean']:.3f}", f"{m['psnr_noisy']:.2f} dB",
                 f"{m['ssim_noisy']:.3f}"]
        if closest:
            cells += [f"{m[f'psnr_closest_{c}']:.2f} dB / {m[f'ssim_closest_{c}']:.3f}" for c in ("clean", "noisy")]
        cells += [f"{m['probe_clean']:.1%}", f"{m['probe_noisy']:.1%}", f"{p[0]:.2f} dB / {p[1]:.3f}",
                  f"{p[2]:.2f} dB / {p[3]:.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def readings_table(results: dict, latent: int) -> str:
    """Markdown: each model's PSNR (clean / noisy) under each reading of the paper's PSNR, and the mean image's."""
    keys = [f"{definition}_{over}" for definition in DEFINITIONS for over in ("per_image", "dataset")]
    lines = ["| model | " + " | ".join(key.replace("_", " ") for key in keys) + " | paper |", "|" + " --- |" * 8]
    for name in MODELS:
        measured = results[name][latent] | {f"psnr_standard_per_image_{c}": results[name][latent][f"psnr_{c}"]
                                            for c in ("clean", "noisy")}
        cells = [f"{measured[f'psnr_{key}_clean']:.2f} / {measured[f'psnr_{key}_noisy']:.2f}" for key in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {PAPER[name][0]:.2f} / {PAPER[name][2]:.2f} |")
    mean = results["mean-image"][latent]
    lines.append("| mean training image | " + " | ".join(f"{mean[key]:.2f}" for key in keys) + " | |")
    return "\n".join(lines) + "\n"


def readings(results: dict, latent: int) -> str:
    """:func:`readings_table` with its title, for the sizes measured since the example records the readings."""
    if latent not in results.get("mean-image", {}):
        return ""
    return f"\nPSNR clean / noisy (dB) under each reading of the paper's:\n\n{readings_table(results, latent)}"


def figure(results: dict, path: Path) -> None:
    """Probe accuracy vs latent size, clean and noisy (the paper's Fig. 2), one line per model."""
    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    for index, condition in enumerate(("clean", "noisy")):
        axes = fig.add_subplot(1, 2, index + 1)
        for name in MODELS:
            sizes = sorted(results[name])
            axes.plot(sizes, [results[name][s][f"probe_{condition}"] for s in sizes], marker="o", label=name)
        axes.set_xscale("log")
        axes.set_xlabel("latent size")
        axes.set_ylabel("linear probe accuracy")
        axes.set_title(f"Fashion-MNIST, {condition} test codes")
        axes.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/vae_sleep_fmnist"),
                        help="folder for the runs, results.json/.md and the PNG (runs found there are resumed)")
    parser.add_argument("--data", help="Fashion-MNIST folder (default: the config's)")
    parser.add_argument("--latent-sizes", type=int, nargs="*", default=[16, 64, 200],
                        help="sizes to measure (none: only gather the sizes measured in --out)")
    parser.add_argument("--paper-config", action="store_true",
                        help="train from configs/{cvae,vsc}_fmnist.yaml (Table 2: lr 1e-4) instead of the *_small "
                             "CPU variants (lr 1e-3)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=10000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--probe-images", type=int, default=5000)
    parser.add_argument("--sleep-batch", type=int, default=1, help="chains sleeping side by side (Algorithm 1: 1)")
    parser.add_argument("--sleep-duration", type=int, help="images presented (default: Table 3, 48,000)")
    parser.add_argument("--closest-of", type=int, default=10, metavar="K",
                        help="also PSNR / SSIM of the closest of K posterior samples per test image, the paper's "
                             "protocol (it does not give K; 0: skip)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # small tensors: more threads only spin on this shared CPU
    for latent in args.latent_sizes:
        measured = measure(args, latent)
        with atomic_path(args.out / f"results-latent{latent}.json") as tmp:
            tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": measured},
                                      indent=2) + "\n")
    results = measured_sizes(args.out)
    if not results:
        parser.error(f"no latent size has been measured in {args.out}; give --latent-sizes")
    with atomic_path(args.out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    tables = "\n".join(f"latent size {latent}\n\n{table(results, latent)}" + readings(results, latent)
                       for latent in sorted(results["cvae"]))
    with atomic_path(args.out / "results.md") as tmp:
        tmp.write_text(tables)
    figure(results, args.out / "latent_sizes.png")
    print(tables)
    print(f"wrote {args.out / 'results.json'}, {args.out / 'results.md'}, {args.out / 'latent_sizes.png'}")

if __name__ == "__main__":
    main()
