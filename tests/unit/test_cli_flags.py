"""One consistent command line: the same flag for the same meaning on every command (-o/--out, -n/--samples,
--precision float|fixed, --set section.key=value), --version, the former spellings --qat / --fixed-point as hidden
deprecated aliases, every mistake in a --set a one-line error; eval finds the demo's FAD model; train --tensorboard
logs each epoch's losses, validation MSE and grids without changing what is trained."""

import argparse
import importlib.metadata
import json
import shutil
import sys

import pytest
import test_cli
import torch
import yaml
from test_cli import cli_error, cli_ok, train_argv

from neurovae.cli.main import build_parser, main

workspace, trained_run = test_cli.workspace, test_cli.trained_run
"""test_cli's fixtures: a gzip MNIST folder with a tiny config, and a one-epoch run of it."""


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Each command's parser, by name."""
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def options(command: str) -> dict[str, list[str]]:
    """``dest -> option strings`` of one command."""
    return {action.dest: action.option_strings for action in subcommands()[command]._actions}


WRITERS = ["train", "eval", "fad-fit", "compare", "export", "run", "energy", "demo", "sleep"]


def test_every_command_is_classified():
    assert set(subcommands()) == {"train", "eval", "fad-fit", "compare", "export", "inspect", "run", "energy", "sleep",
                                  "demo"}
    assert "out" not in options("inspect")  # prints only


@pytest.mark.parametrize("command", WRITERS)
def test_every_command_that_writes_takes_o_and_out(command):
    assert options(command)["out"] == ["-o", "--out"]


@pytest.mark.parametrize("command", ["eval", "run", "energy"])
def test_a_count_of_samples_is_n_everywhere(command):
    assert options(command)["samples"] == ["-n", "--samples"]


@pytest.mark.parametrize("command", ["train", "eval", "export", "run", "energy", "sleep"])
def test_precision_is_one_flag_float_or_fixed(command):
    [action] = [a for a in subcommands()[command]._actions if a.option_strings == ["--precision"]]
    assert tuple(action.choices) == ("float", "fixed")


@pytest.mark.parametrize(("command", "old"), [("train", "--qat"), ("eval", "--fixed-point")])
def test_former_precision_flags_work_hidden_with_a_note(capsys, command, old):
    args = build_parser().parse_args([command, "X", old])
    assert args.precision == "fixed"
    assert capsys.readouterr().err == f"neurovae: note: {old} is deprecated and goes in the next release; use " \
                                      "--precision fixed\n"
    assert old not in subcommands()[command].format_help()
    assert build_parser().parse_args([command, "X"]).precision == (None if command == "train" else "float")


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"neurovae {importlib.metadata.version('neurovae')}\n"


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_commands_help_shows_the_consistent_flags(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for dest, spelled in {"out": "-o OUT, --out OUT", "samples": "-n N, --samples N",
                          "precision": "--precision {float,fixed}", "settings": "--set KEY=VALUE"}.items():
        if dest in options(command) and command != "sleep":
            assert spelled in text or spelled.replace("OUT", "RUN") in text, (command, spelled)


# ------------------------------------------------------------------------------------------------ --set


def test_train_set_overrides_any_config_key(capsys, workspace, tmp_path):
    _, data, config = workspace
    out = tmp_path / "run"
    cli_ok(capsys, *train_argv(config, data, out, "--set", "train.lr=1e-3", "--set", "model.steps=7",
                               "--set", "data.train_limit=32", "--set", "train.lr_multipliers={}"))
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["lr"] == 1e-3 and saved["model"]["steps"] == 7 and saved["data"]["train_limit"] == 32
    assert saved["train"]["lr_multipliers"] == {}


@pytest.mark.parametrize(("settings", "fragments"), [
    (["train.lrr=1"], ["unknown config key train.lrr", "valid keys"]),
    (["train.lr=fast"], ["train.lr", "must be float", "fast"]),
    (["train.lr"], ["--set train.lr", "KEY=VALUE"]),
    (["lr=1"], ["--set lr=1", "section.key"]),
    (["train.lr=[1"], ["--set train.lr=[1", "not a YAML value"]),
    (["nosuch.key=1"], ["--set nosuch.key", "may set only model.*, data.*, train.*"]),
    (["train.epochs=3"], ["--set train.epochs", "give one"]),  # also --epochs 1 (train_argv)
])
def test_a_bad_train_set_is_a_one_line_error(capsys, workspace, tmp_path, settings, fragments):
    _, data, config = workspace
    out = tmp_path / "run"
    cli_error(capsys, *train_argv(config, data, out, *(arg for s in settings for arg in ("--set", s))),
              fragments=fragments)
    assert not out.exists()


def test_eval_set_changes_the_test_data_only(capsys, workspace, trained_run, tmp_path):
    _, data, _ = workspace
    out = tmp_path / "eval"
    cli_ok(capsys, "eval", trained_run, "--data", data, "-o", out, "--set", "data.test_limit=8", "--probe-images", "0",
           "--fad", tmp_path / "none.pt", "--no-progress", "--device", "cpu")
    assert json.loads((out / "metrics.json").read_text())["test_images"] == 8
    cli_error(capsys, "eval", trained_run, "--data", data, "-o", tmp_path / "e2", "--set", "model.steps=3",
              fragments=["--set model.steps", "may set only data.*, train.eval_samples, train.seed"])
    cli_error(capsys, "eval", trained_run, "--data", data, "-o", tmp_path / "e2", "-n", "4", "--set",
              "train.eval_samples=8", fragments=["train.eval_samples", "give one"])
    cli_error(capsys, "eval", trained_run, "--data", data, "-o", tmp_path / "e2", "-n", "0",
              fragments=["train.eval_samples", ">= 1"])
    assert not (tmp_path / "e2").exists()


def test_eval_finds_the_fad_model_beside_the_run_as_the_demo_writes_it(capsys, workspace, trained_run, tmp_path,
                                                                      monkeypatch):
    """``neurovae demo`` writes runs/demo/run and runs/demo/fad/<dataset>-<size>.pt; eval must use that one."""
    _, data, config = workspace
    group = tmp_path / "demo"
    shutil.copytree(trained_run, group / "run")
    monkeypatch.chdir(tmp_path)  # no runs/fad here
    stdout = cli_ok(capsys, "eval", group / "run", "--data", data, "-n", "16", "--probe-images", "0",
                    "--no-progress", "--device", "cpu")
    assert f"no autoencoder at {group / 'fad' / 'mnist-8.pt'} or {'runs/fad/mnist-8.pt'}" in stdout
    cli_ok(capsys, "fad-fit", config, "--data", data, "--epochs", "1", "--limit", "32", "-o",
           group / "fad" / "mnist-8.pt", "--no-progress", "--device", "cpu")
    stdout = cli_ok(capsys, "eval", group / "run", "--data", data, "-n", "16", "--probe-images", "0",
                    "--no-progress", "--device", "cpu", "--force")
    metrics = json.loads((group / "run" / "eval" / "metrics.json").read_text())
    assert "FAD skipped" not in stdout and metrics["fad_model"] == str(group / "fad" / "mnist-8.pt")
    assert metrics["fad"] is not None


# ------------------------------------------------------------------------------------------ --tensorboard


def test_losses_validation_and_grids_of_every_epoch(capsys, workspace, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, data, config = workspace
    logged = ["--epochs", "2", "--set", "train.validate_images=16"]
    stdout = cli_ok(capsys, *train_argv(config, data, tmp_path / "logged", *logged, "--tensorboard", tmp_path / "tb"))
    assert f"logging to TensorBoard in {tmp_path / 'tb'}" in stdout
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"loss/loss", "loss/mse", "validation/mse", "speed/images_per_s"} <= set(scalars)
    assert "epoch" not in str(scalars) and "images" not in [tag.split("/")[-1] for tag in scalars]
    assert [e.step for e in events.Scalars("validation/mse")] == [1, 2]
    history = [json.loads(line) for line in (tmp_path / "logged" / "history.jsonl").read_text().splitlines()]
    assert [e.value for e in events.Scalars("loss/loss")] == pytest.approx([row["loss"] for row in history])
    for tag in ("reconstructions", "samples"):
        assert [e.step for e in events.Images(tag)] == [1, 2]
    assert events.Images("reconstructions")[0].height > events.Images("samples")[0].height  # inputs above

    cli_ok(capsys, *train_argv(config, data, tmp_path / "plain", *logged))
    logged_weights = torch.load(tmp_path / "logged" / "checkpoint.pt", weights_only=False)["model"]
    plain_weights = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(logged_weights[key], plain_weights[key]) for key in plain_weights)  # logging draws nothing


def test_without_tensorboard_installed_a_one_line_error_names_the_extra(capsys, workspace, tmp_path, monkeypatch):
    _, data, config = workspace
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    cli_error(capsys, *train_argv(config, data, tmp_path / "run", "--tensorboard", tmp_path / "tb"),
              fragments=["--tensorboard needs the tensorboard package", "pip install 'neurovae[tensorboard]'"])
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
