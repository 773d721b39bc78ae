"""The Tadros sleep experiment end to end on a tiny MNIST-format folder: outputs written, records complete."""

from __future__ import annotations

import json

import pytest
import torch

from neurovae.sleep.stdp_network.corruptions import add_gaussian_noise, gaussian_blur
from neurovae.sleep.stdp_network.experiment import TadrosExperiment, run_tadros_experiment, write_outputs
from neurovae.sleep.stdp_network.params import InputParams, NetworkParams, SleepParams, StdpParameterError


def test_tiny_experiment_writes_tables_and_figures(tmp_path, make_idx_folder) -> None:
    folder = make_idx_folder(n_train=40, n_test=12, size=8)
    config = TadrosExperiment(
        data=folder, out=tmp_path / "out", seeds=(0, 1), train_sizes=(4, 8), robust_sizes=(4,), label_count=20,
        test_count=12, noise_levels=(0.0, 0.2), blur_levels=(1.0,),
        network=NetworkParams(n_input=64, n_neurons=5, input=InputParams(duration=30.0)),
        sleep=SleepParams(duration=60.0, theta_tau=30.0))
    results = run_tadros_experiment(config)
    for name in ("results.json", "results.md", "accuracy_vs_train_size.png", "accuracy_vs_noise_4.png",
                 "accuracy_vs_blur_4.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    accuracies = [r for r in results["records"] if "accuracy" in r]
    # size 4: (clean + 1 noise + 1 blur) x (the 2x2 ablation's 4 states + the decay control); size 8: clean,
    # before/after; x 2 seeds
    assert len(accuracies) == (3 * 5 + 1 * 2) * 2
    assert {r["state"] for r in accuracies if r["train_size"] == 4} == {"before", "after", "slept_weights",
                                                                         "slept_thresholds", "decayed_thresholds"}
    assert {r["state"] for r in accuracies if r["train_size"] == 8} == {"before", "after"}
    assert "slept weights, awake thresholds" in (tmp_path / "out" / "results.md").read_text()
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in accuracies)
    assert json.loads((tmp_path / "out" / "results.json").read_text())["records"] == results["records"]


def test_the_paired_gain_table_subtracts_each_seeds_awake_accuracy(tmp_path) -> None:
    accuracy = {("before", 0): 0.5, ("before", 1): 0.3, ("after", 0): 0.7, ("after", 1): 0.6,
                ("decayed_thresholds", 0): 0.6, ("decayed_thresholds", 1): 0.6}
    records = [{"train_size": 10, "state": state, "corruption": corruption, "level": level, "seed": seed,
                "accuracy": value - level} for (state, seed), value in accuracy.items()
               for corruption, level in (("clean", 0.0), ("noise", 0.1), ("blur", 0.1))]
    write_outputs({"records": records}, tmp_path)
    text = (tmp_path / "results.md").read_text()
    # after - awake: 0.2 and 0.3 (mean 0.25, t(0.975, 1) = 12.706 times the standard error 0.05); after - control:
    # 0.1 and 0.0
    assert "| 0.0 | 0.250 ± 0.635 | 0.200 ± 1.271 | 0.050 ± 0.635 |" in text
    assert "after sleep - thresholds decayed without sleep" in text


def test_more_training_images_than_the_folder_holds_is_refused(tmp_path, make_idx_folder) -> None:
    folder = make_idx_folder(n_train=30, n_test=10, size=8)
    config = TadrosExperiment(data=folder, out=tmp_path / "out", train_sizes=(25,), robust_sizes=(25,),
                              label_count=10, network=NetworkParams(n_input=64, n_neurons=3))
    with pytest.raises(StdpParameterError, match="only 20 remain"):
        run_tadros_experiment(config)


def test_robust_sizes_must_be_training_sizes(tmp_path) -> None:
    with pytest.raises(StdpParameterError, match="robust_sizes"):
        TadrosExperiment(data=tmp_path, out=tmp_path, train_sizes=(10,), robust_sizes=(20,))


def test_corruptions_keep_range_and_blur_keeps_mass_inside() -> None:
    image = torch.zeros(1, 49)
    image[0, 24] = 1.0  # centre pixel of 7x7
    blurred = gaussian_blur(image, 1.0)
    assert blurred[0, 24] < 1.0 and blurred.sum().item() == pytest.approx(1.0, abs=0.02)
    assert torch.equal(gaussian_blur(image, 0.0), image)
    noisy = add_gaussian_noise(image, 0.5, torch.Generator().manual_seed(0))
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, image)
    with pytest.raises(StdpParameterError, match="sigma must be >= 0"):
        gaussian_blur(image, -1.0)
