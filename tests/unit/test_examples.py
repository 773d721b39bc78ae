"""The runnable examples, at toy sizes: they run end to end and write what their docstrings promise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_example(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(REPO / "examples" / script), *args], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_vae_sleep_example_gathers_latent_sizes_measured_in_separate_invocations(fmnist_dir, tmp_path):
    small = ["--data", str(fmnist_dir), "--out", str(tmp_path), "--epochs", "1", "--train-images", "64",
             "--test-images", "32", "--probe-images", "64", "--sleep-duration", "4", "--closest-of", "2"]
    run_example("vae_sleep_fmnist.py", *small, "--latent-sizes", "4")
    first = json.loads((tmp_path / "results-latent4.json").read_text())["results"]
    run_example("vae_sleep_fmnist.py", *small, "--latent-sizes", "8")

    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["cvae"]) == {"4", "8"}
    assert results["vsc"]["4"] == first["vsc"]  # kept from the first invocation, not measured again
    for metrics in (results[name][size] for name in ("cvae", "vsc", "cvae-sleep", "cvae-sleep-loihi")
                    for size in ("4", "8")):
        assert 0 <= metrics["probe_clean"] <= 1 and metrics["psnr_closest_clean"] > 0
    slept_on_loihi = json.loads((tmp_path / "cvae-sleep-loihi-latent8" / "sleep.json").read_text())
    assert (slept_on_loihi["backend"], slept_on_loihi["precision"]) == ("emulator", "fixed")
    (tmp_path / "results.json").unlink()
    run_example("vae_sleep_fmnist.py", "--out", str(tmp_path), "--latent-sizes")  # gathers, measures nothing
    assert json.loads((tmp_path / "results.json").read_text()) == results
    tables = (tmp_path / "results.md").read_text()
    assert "latent size 4" in tables and "latent size 8" in tables
    assert tables.count("| mean training image |") == 2  # the paper's PSNR readings, with the mean-image floor
    cvae = results["cvae"]["8"]
    assert cvae["psnr_twenty_log_per_image_noisy"] == pytest.approx(2 * cvae["psnr_noisy"], abs=1e-4)
    assert (tmp_path / "latent_sizes.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "cvae-sleep-latent8" / "checkpoint.pt").exists()  # the slept model is a run


def test_paper_training_example_trains_and_evaluates_epoch_by_epoch_and_resumes(fmnist_dir, tmp_path,
                                                                                 write_tiny_config):
    config = write_tiny_config(dataset="fashion_mnist", image_size=8)
    run = tmp_path / "run"
    args = ["--config", str(config), "--data", str(fmnist_dir), "--out", str(run), "--no-compile", "--no-fad",
            "--eval-samples", "16", "--probe-images", "32", "--reference-mse", "0.5", "0.4"]
    run_example("paper_training.py", *args, "--epochs", "1")
    first = (run / "eval-epoch-1" / "metrics.json").read_text()
    stdout = run_example("paper_training.py", *args, "--epochs", "2")
    trained = [line for line in stdout.splitlines() if line.startswith("$ neurovae train")]
    assert len(trained) == 1 and "--epochs 2 --resume" in trained[0]  # only the new epoch is trained
    assert (run / "eval-epoch-1" / "metrics.json").read_text() == first  # evaluated epochs are kept
    table = (run / "epochs.md").read_text().splitlines()
    assert len(table) == 4 and table[2].startswith("| 1 |") and table[3].startswith("| 2 |")
    assert table[3].endswith("| 0.400 |")
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert (run / "learning_curve.png").read_bytes().startswith(b"\x89PNG")
