"""The PSNR definitions that VAE-sleep's paper may have used, against hand computations, and in ``neurovae eval``."""

import json
import math

import pytest
import torch

from neurovae.cli.main import main
from neurovae.errors import NeurovaeError
from neurovae.evaluate.psnr_variants import EQ19_FLOOR_DB, paper_psnr, psnr_variants

# two 2x2 images on [0, 1]: the first wrong by 0.1 and 0.2 in two pixels, the second by 0.5 everywhere
TARGET = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]], [[[0.0, 0.0], [0.5, 0.5]]]], dtype=torch.float64)
RECON = torch.tensor([[[[0.1, 0.5], [0.8, 0.25]]], [[[0.5, 0.5], [0.0, 1.0]]]], dtype=torch.float64)
MSE = (0.05 / 4, 0.25)  # (0.1^2 + 0.2^2) / 4, 0.5^2
MAE = (0.3 / 4, 0.5)


def signed(images):
    return images * 2 - 1  # the models' [-1, 1] scale


def test_each_definition_equals_its_hand_computation():
    got = psnr_variants(signed(RECON), signed(TARGET))
    hand = {"standard": lambda mse, mae: 10 * math.log10(1 / mse),
            "twenty_log": lambda mse, mae: 20 * math.log10(1 / mse),
            "eq19": lambda mse, mae: 10 * math.log10(255**2 / (255 * mae))}
    for name, definition in hand.items():
        per_image = [definition(mse, mae) for mse, mae in zip(MSE, MAE, strict=True)]
        assert got[f"{name}_per_image"] == pytest.approx(sum(per_image) / 2, abs=1e-9), name
        assert got[f"{name}_dataset"] == pytest.approx(definition(sum(MSE) / 2, sum(MAE) / 2), abs=1e-9), name
    assert got["standard_per_image"] == pytest.approx((19.0309 + 6.0206) / 2, abs=1e-4)
    assert got["twenty_log_per_image"] == pytest.approx(2 * got["standard_per_image"])


def test_eq19_never_falls_below_its_floor_and_an_exact_image_is_infinite():
    black, white = -torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    assert psnr_variants(black, white)["eq19_dataset"] == pytest.approx(EQ19_FLOOR_DB) == pytest.approx(24.0654,
                                                                                                        abs=1e-4)
    assert psnr_variants(white, white)["twenty_log_per_image"] == math.inf
    with pytest.raises(NeurovaeError, match="does not match"):
        psnr_variants(white, white[..., :2])


def test_the_mean_image_predictor_outputs_the_mean_of_the_reference_images():
    reference = signed(torch.tensor([[[[0.0, 0.2], [0.4, 0.6]]], [[[1.0, 0.8], [0.6, 0.4]]]], dtype=torch.float64))
    scores = paper_psnr(signed(RECON), signed(TARGET), reference)
    constant = signed(torch.tensor([[[[0.5, 0.5], [0.5, 0.5]]]], dtype=torch.float64)).expand(2, -1, -1, -1)
    assert scores["mean_image"] == psnr_variants(constant, signed(TARGET))
    assert scores["model"] == psnr_variants(signed(RECON), signed(TARGET)) and scores["mean_image_of"] == 2


def test_eval_of_a_cvae_run_reports_the_variants(capsys, cvae_run):
    root, data = cvae_run
    assert main(["eval", str(root / "run"), "--data", str(data), "-n", "16", "--probe-images", "32",
                 "--no-progress"]) == 0
    metrics = json.loads((root / "run" / "eval" / "metrics.json").read_text())
    variants = metrics["paper_psnr"]
    assert variants["model"]["standard_per_image"] == pytest.approx(metrics["psnr"], abs=1e-5)
    assert variants["mean_image_of"] == 32 and variants["mean_image"]["eq19_dataset"] >= EQ19_FLOOR_DB
    capsys.readouterr()
