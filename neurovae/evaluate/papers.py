"""The papers' published figures, for the "paper" column of ``neurovae compare`` (typed from the PDFs, with sources).

Only this column is typed in; every other number of a comparison comes from a run's ``metrics.json``. A figure
is keyed by the model it describes (a registered model name, or a variant such as ``sae-dense``), the dataset and
the metric key of ``metrics.json`` it corresponds to. Where a paper's metric is defined differently from ours, the
note says so, and the figure is shown for orientation only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperFigure:
    """One published number."""

    model: str
    dataset: str
    metric: str
    value: float
    source: str
    note: str = ""


ESVAE_TABLE_I = "Zhan et al. 2024 (ESVAE), Table I"
ESVAE_TABLE_III = "Zhan et al. 2024 (ESVAE), Table III"
FAD_NOTE = "FAD with the paper's own autoencoder; neurovae's FAD autoencoder differs, compare trends only"
PROBE_NOTE = "paper: 4-layer MLP on encoder rates, 200 epochs; neurovae: linear probe"


def _esvae_table() -> list[PaperFigure]:
    """Table I (reconstruction MSE, FAD) and Table III (classification of encoder rates) of the ESVAE paper."""
    rows = {  # dataset: {model: (reconstruction loss, FAD)}
        "mnist": {"ann_vae": (0.048, 17.09), "fsvae": (0.031, 35.54), "esvae": (0.013, 10.99)},
        "fashion_mnist": {"ann_vae": (0.050, 18.08), "fsvae": (0.031, 15.75), "esvae": (0.019, 11.13)},
        "cifar10": {"ann_vae": (0.105, 196.9), "fsvae": (0.066, 133.9), "esvae": (0.045, 14.74)},
        "celeba": {"ann_vae": (0.059, 156.9), "fsvae": (0.051, 112.9), "esvae": (0.034, 51.93)},
    }
    figures = []
    for dataset, models in rows.items():
        for model, (loss, fad) in models.items():
            figures.append(PaperFigure(model, dataset, "mse", loss, ESVAE_TABLE_I, "reconstruction loss (MSE)"))
            figures.append(PaperFigure(model, dataset, "fad", fad, ESVAE_TABLE_I, FAD_NOTE))
    accuracy = {"cifar10": {"fsvae": 46.65, "esvae": 53.59}, "fashion_mnist": {"fsvae": 86.28, "esvae": 88.59},
                "mnist": {"fsvae": 98.00, "esvae": 98.09}}
    figures += [PaperFigure(model, dataset, "probe_accuracy", value / 100, ESVAE_TABLE_III, PROBE_NOTE)
                for dataset, models in accuracy.items() for model, value in models.items()]
    return figures


def _sae_table() -> list[PaperFigure]:
    """Hübotter et al. 2021, Table 1 (MNIST, 10 epochs, 5 repetitions): reconstruction loss and distance ratio."""
    source = "Hübotter et al. 2021, Table 1"
    note = "L_rec as the paper sums it per image (not neurovae's per-pixel MSE)"
    rows = {"sae": (38.09, 0.65), "sae-sparse": (11.58, 0.74), "sae-dense": (6.75, 0.78), "ann_ae": (7.89, 0.65)}
    figures = []
    for model, (loss, ratio) in rows.items():
        figures.append(PaperFigure(model, "mnist", "reconstruction_loss", loss, source, note))
        figures.append(PaperFigure(model, "mnist", "intra_inter_distance_ratio", ratio, source))
    return figures


def _vae_sleep_table() -> list[PaperFigure]:
    """Talafha et al. 2020, Table 4: PSNR / SSIM on the clean and the noisy test set."""
    source = "Talafha et al. 2020, Table 4"
    rows = {  # dataset: {model: (psnr, ssim, noisy psnr, noisy ssim)}
        "celeba": {"cvae": (20.9, 0.620, 16.70, 0.430), "vsc": (28.9, 0.789, 24.10, 0.700),
                   "vae-sleep": (29.6, 0.800, 27.20, 0.750)},
        "mnist": {"cvae": (33.00, 0.833, 29.00, 0.659), "vsc": (34.40, 0.960, 30.40, 0.870),
                  "vae-sleep": (34.57, 0.965, 32.57, 0.910)},
        "fashion_mnist": {"cvae": (30.30, 0.590, 21.65, 0.430), "vsc": (30.55, 0.760, 26.97, 0.680),
                          "vae-sleep": (31.07, 0.800, 28.97, 0.710)},
    }
    metrics = ("psnr", "ssim", "noisy_psnr", "noisy_ssim")
    return [PaperFigure(model, dataset, metric, value, source)
            for dataset, models in rows.items() for model, values in models.items()
            for metric, value in zip(metrics, values, strict=True)]


PAPER_FIGURES: tuple[PaperFigure, ...] = tuple(_esvae_table() + _sae_table() + _vae_sleep_table())


def paper_figure(model: str, dataset: str, metric: str) -> PaperFigure | None:
    """The published figure for ``model`` on ``dataset`` for ``metric``, if a paper reports one."""
    for figure in PAPER_FIGURES:
        if (figure.model, figure.dataset, figure.metric) == (model, dataset, metric):
            return figure
    return None
