"""The sleep search on Optuna: seeded determinism, the objective, its record, noise, and the command line."""

import csv
import dataclasses
import json

import pytest
import torch

from neurovae.cli.main import main
from neurovae.errors import ConfigError
from neurovae.evaluate.intervals import format_interval, mean_and_interval
from neurovae.evaluate.robustness import robustness
from neurovae.models.cvae import CVAE, CVAEConfig
from neurovae.sleep.confirm import confirm_on_test, confirmation_table
from neurovae.sleep.run import sleep_model, table3_config
from neurovae.sleep.search import MAX_RELATIVE_CHANGE, SearchSpace, Validation, relative_gain, run_search, sleep_config
from neurovae.sleep.search_output import describe_best, write_search

TINY = SearchSpace(duration=(5, 30))


def tiny_setup():
    torch.manual_seed(0)
    model = CVAE(CVAEConfig(image_size=8, channels=(4, 8), hidden_dim=16, latent_dim=4)).eval()
    generator = torch.Generator().manual_seed(1)
    sleep_images = torch.rand(20, 1, 8, 8, generator=generator) * 2 - 1
    validation = Validation(torch.rand(24, 1, 8, 8, generator=generator) * 2 - 1, torch.arange(24) % 3)
    return model, sleep_images, validation


def test_a_seeded_search_gives_the_same_trials_twice():
    model, images, validation = tiny_setup()
    base = table3_config("fashion_mnist", seed=3)
    first, second = (run_search(model, images, validation, base, 3, seed=5, space=TINY) for _ in range(2))
    assert first == second
    assert [record["trial"] for record in first["trials"]] == [0, 1, 2]
    other = run_search(model, images, validation, base, 3, seed=6, space=TINY)
    assert [r["params"] for r in other["trials"]] != [r["params"] for r in first["trials"]]
    for record in (r for r in first["trials"] if r["state"] == "done"):
        assert record["feasible"] == (record["max_relative_change"] <= MAX_RELATIVE_CHANGE)
        assert set(record["figures"]) == {"pixel 0.1", "pixel 0.2", "pixel 0.3", "latent 1"}
        assert TINY.duration[0] <= record["params"]["duration"] <= TINY.duration[1]
    feasible = [r for r in first["trials"] if r["state"] == "done" and r["feasible"]]
    assert first["best"] == max(feasible, key=lambda r: r["objective"], default=None)


def test_the_objective_is_the_mean_relative_gain_in_percent():
    awake = {"pixel 0.1": {"psnr": 10.0, "probe": 0.5}, "latent 1": {"psnr": 20.0, "probe": 0.25}}
    slept = {"pixel 0.1": {"psnr": 11.0, "probe": 0.5}, "latent 1": {"psnr": 19.0, "probe": 0.5}}
    assert relative_gain(slept, awake) == pytest.approx(100 * (0.1 + 0 - 0.05 + 1.0) / 4)
    assert relative_gain(awake, awake) == 0


def test_a_trials_setting_scales_table3_and_reads_the_encoding():
    base = table3_config("fashion_mnist", seed=4)
    params = {"threshold_scale": 0.5, "encoding": "intensity", "a_ltp": 1e-3, "a_ltd": 2e-3, "duration": 7,
              "leak": 0.25}
    config = sleep_config(params, base)
    assert config.thresholds == (36.18 / 2, 23.36 / 2) and config.input_rate_hz == 1000.0  # p = intensity
    assert (config.a_ltp, config.a_ltd, config.duration, config.leak, config.seed) == (1e-3, 2e-3, 7, 0.25, 4)
    assert sleep_config(params | {"encoding": "rate", "input_rate_hz": 80.0}, base).input_rate_hz == 80.0
    with pytest.raises(ConfigError, match="search range a_ltp"):
        SearchSpace(a_ltp=(0.0, 1e-2))


def test_the_search_writes_its_trials_and_a_plot(tmp_path):
    model, images, validation = tiny_setup()
    result = run_search(model, images, validation, table3_config("fashion_mnist"), 3, seed=5, space=TINY)
    paths = write_search(result, tmp_path)
    assert json.loads(paths[0].read_text()) == json.loads(json.dumps(result))
    rows = list(csv.DictReader(paths[1].open()))
    assert [row["trial"] for row in rows] == ["0", "1", "2"] and "a_ltp" in rows[0] and "encoder.0 mean |dW|" in rows[0]
    assert paths[2].read_bytes().startswith(b"\x89PNG")
    assert describe_best(result).startswith("best: trial" if result["best"] else "no trial")


def test_two_models_see_the_same_noise_and_too_few_images_are_refused():
    model, _, validation = tiny_setup()
    first = robustness(model, validation.images, validation.labels, seed=2)
    assert first == robustness(model, validation.images, validation.labels, seed=2)
    assert first != robustness(model, validation.images, validation.labels, seed=3)
    with pytest.raises(ConfigError, match="at least 4 labelled images"):
        robustness(model, validation.images[:3], validation.labels[:3])
    with pytest.raises(ConfigError, match="pixel noise sigmas"):
        robustness(model, validation.images, validation.labels, pixel_sigmas=(0.0,))


def test_the_interval_is_students_t_over_the_seeds():
    summary = mean_and_interval([1.0, 2.0, 3.0])
    assert summary["mean"] == 2.0 and summary["half_width"] == pytest.approx(4.302653 * 1 / 3 ** 0.5, rel=1e-6)
    assert mean_and_interval([5.0]) == {"mean": 5.0, "half_width": None}
    assert format_interval(summary, 2) == "2.00 ± 2.48" and format_interval(mean_and_interval([5.0]), 1) == "5.0"


def test_confirming_a_setting_sleeps_once_per_seed_on_the_same_noise_as_no_sleep():
    model, images, test = tiny_setup()
    base = table3_config("fashion_mnist")
    params = {"threshold_scale": 0.01, "encoding": "intensity", "a_ltp": 1e-2, "a_ltd": 1e-2, "duration": 20,
              "leak": 0.0}
    result = confirm_on_test(model, images, test, base, params, [0, 1])
    assert result == confirm_on_test(model, images, test, base, params, [0, 1])
    for run in result["runs"]:
        assert run["awake"] == test.measure(model, run["seed"])
        config = sleep_config(params, dataclasses.replace(base, seed=run["seed"]))
        slept, _ = sleep_model(model, images, config, "emulator", precision="fixed")
        assert run["slept"] == test.measure(slept, run["seed"])
    psnr = result["conditions"]["pixel 0.1"]["psnr"]
    differences = [run["slept"]["pixel 0.1"]["psnr"] - run["awake"]["pixel 0.1"]["psnr"] for run in result["runs"]]
    assert psnr["difference"] == mean_and_interval(differences)
    assert "| pixel 0.1 |" in confirmation_table(result) and "2 seeds, 24 test images" in confirmation_table(result)
    with pytest.raises(ConfigError, match="at least one seed"):
        confirm_on_test(model, images, test, base, params, [])


def test_sleep_search_command_writes_the_search_and_refuses_what_it_chooses(capsys, cvae_run):
    root, data = cvae_run
    argv = ["sleep", str(root / "run"), "--data", str(data), "--search", "2", "--images", "32", "--val-images", "32",
            "--search-durations", "5", "20", "--seed", "3", "--test-seeds", "2", "--test-images", "32"]
    capsys.readouterr()
    assert main([*argv, "--out", str(root / "search")]) == 0
    out = capsys.readouterr().out
    assert "sleeping on 32 training images, judging on the next 32" in out and "trial 1:" in out
    assert {p.name for p in (root / "search").iterdir()} >= {"trials.json", "trials.csv", "search.png"}
    trials = json.loads((root / "search" / "trials.json").read_text())
    logged = [json.loads(line) for line in (root / "search" / "trials.jsonl").read_text().splitlines()]
    assert logged == json.loads(json.dumps(trials["trials"]))
    assert trials["base"]["seed"] == 3 and trials["best"] is not None  # this seed finds a feasible setting
    assert "confirming the best setting on 32 test images, seeds 0-1" in out and "seed 1:" in out
    confirmed = json.loads((root / "search" / "test.json").read_text())
    assert confirmed["seeds"] == [0, 1] and confirmed["params"] == trials["best"]["params"]
    assert "| latent 1 |" in (root / "search" / "test.md").read_text()
    for extra, fragment in ((["--thresholds", "1", "1"], "--search chooses --thresholds itself"),
                            (["--backend", "torch"], "sleeps on the emulator"),
                            (["--val-images", "2"], "at least 4"), (["--test-images", "3"], "--test-images must"),
                            (["--test-seeds", "-1"], "--test-seeds must"), (["--search", "0"], "at least one trial")):
        assert main([*argv, *extra, "--out", str(root / "bad")]) == 2
        error = capsys.readouterr().err.splitlines()
        assert len(error) == 1 and fragment in error[0] and not (root / "bad").exists()
