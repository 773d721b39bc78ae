"""The command line: train / fad-fit / eval on tiny MNIST-format folders, and every user mistake as exit status 2
with exactly one ``neurovae: error:`` line, no traceback and no half-written output."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from neurovae.cli.main import main

REPO = Path(__file__).resolve().parents[2]
MNIST_CONFIG = REPO / "configs" / "esvae_mnist.yaml"
CONSOLE_SCRIPT = Path(sys.executable).parent / "neurovae"


def cli_ok(capsys, *argv):
    """Run ``neurovae argv`` in-process; it must succeed without writing anything to stderr but progress."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    return captured.out


def cli_error(capsys, *argv, fragments=()):
    """Run ``neurovae argv`` in-process; it must fail with status 2 and one ``neurovae: error:`` line."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("neurovae: error: "), captured.err
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def train_argv(config, data, out, *extra):
    return ["train", config, "--data", data, "--out", out, "--epochs", "1", "--no-progress", "--device", "cpu", *extra]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_config_dict, idx):
    """A gzip MNIST folder (200 train / 100 test), a tiny-model config that keeps ``dataset: mnist``."""
    root = tmp_path_factory.mktemp("cli")
    data = idx.folder(root / "mnist", n_train=200, n_test=100, gz=True)
    config = root / "tiny_mnist.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(dataset="mnist", batch_size=64)))
    return root, data, config


@pytest.fixture(scope="module")
def trained_run(workspace):
    """A one-epoch run of the tiny config (trained once for the module)."""
    root, data, config = workspace
    out = root / "run"
    assert main([str(a) for a in train_argv(config, data, out)]) == 0
    return out


# ------------------------------------------------------------------------------------------------ success


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_train_on_an_mnist_folder(capsys, tmp_path, write_tiny_config, make_idx_folder, gz):
    data = make_idx_folder(n_train=64, n_test=16, gz=gz)
    assert {p.name.endswith(".gz") for p in data.iterdir()} == {gz}
    out = tmp_path / "run"
    stdout = cli_ok(capsys, *train_argv(write_tiny_config(dataset="mnist"), data, out))
    assert "64 mnist images" in stdout and "epoch 1/1" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml", "history.csv", "history.jsonl"]
    assert yaml.safe_load((out / "config.yaml").read_text())["data"]["root"] == str(data)
    assert len((out / "history.jsonl").read_text().splitlines()) == 1


def test_train_resume_continues_the_run(capsys, workspace, tmp_path):
    _, data, config = workspace
    out = tmp_path / "run"
    cli_ok(capsys, *train_argv(config, data, out))
    stdout = cli_ok(capsys, "train", config, "--data", data, "--out", out, "--epochs", "2", "--no-progress",
                    "--resume")
    assert "resuming" in stdout and "epoch 2/2" in stdout and "epoch 1/2" not in stdout
    assert torch.load(out / "checkpoint.pt", weights_only=False)["epoch"] == 2


def _real_mnist_config_run(capsys, tmp_path, idx, images, batch):
    data = idx.folder(tmp_path / "mnist", n_train=images, n_test=8, gz=True)
    out = tmp_path / "run"
    stdout = cli_ok(capsys, *train_argv(MNIST_CONFIG, data, out, "--batch-size", batch))
    assert f"training esvae on {images} mnist images" in stdout
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["channels"] == [32, 64, 128, 256] and saved["model"]["steps"] == 16
    assert saved["train"]["epochs"] == 1 and saved["train"]["batch_size"] == batch
    assert torch.load(out / "checkpoint.pt", weights_only=False)["epoch"] == 1


def test_the_real_mnist_config_trains(capsys, tmp_path, idx):
    """``configs/esvae_mnist.yaml`` as shipped (paper-size model, T = 16, 28x28 IDX resized to 32): one epoch of
    64 images in batches of 32, i.e. two full-size optimizer steps (~10 s on one busy core)."""
    _real_mnist_config_run(capsys, tmp_path, idx, images=64, batch=32)


def test_fad_fit_then_eval_writes_metrics_and_grids(capsys, workspace, trained_run, tmp_path):
    _, data, config = workspace
    fad = tmp_path / "fad.pt"
    stdout = cli_ok(capsys, "fad-fit", config, "--data", data, "--epochs", "1", "--limit", "64", "-o", fad,
                    "--no-progress", "--device", "cpu")
    assert fad.is_file() and str(fad) in stdout

    out = tmp_path / "eval"
    stdout = cli_ok(capsys, "eval", trained_run, "--data", data, "--out", out, "--fad", fad, "-n", "100",
                    "--probe-images", "64", "--no-progress", "--device", "cpu")
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "reconstructions.png", "samples.png"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_images"] == 100 and metrics["probe_train_images"] == 64
    for key in ("mse", "psnr", "ssim", "fad", "fad_reconstruction", "probe_accuracy"):
        assert np.isfinite(metrics[key]), key
    assert 0 <= metrics["probe_accuracy"] <= 1
    printed = json.loads(stdout[stdout.index("{"): stdout.rindex("}") + 1])
    assert printed["epochs_trained"] == 1
    for name in ("reconstructions.png", "samples.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_default_output_folder_and_missing_fad(capsys, workspace, trained_run, tmp_path):
    _, data, _ = workspace
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    stdout = cli_ok(capsys, "eval", run, "--data", data, "-n", "16", "--probe-images", "0", "--fad",
                    tmp_path / "no_fad.pt", "--no-progress", "--device", "cpu")
    assert "FAD skipped" in stdout
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert "fad" not in metrics and "probe_accuracy" not in metrics


def strict_json(text):
    """``text`` parsed as strict JSON: NaN and Infinity are errors, as in ``jq`` or a browser."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_eval_writes_an_undefined_metric_as_null(capsys, workspace, trained_run, tmp_path):
    """One test image has no pair of its class: the distance ratio is NaN, written as null."""
    _, data, _ = workspace
    out = tmp_path / "eval"
    stdout = cli_ok(capsys, "eval", trained_run, "--data", data, "--out", out, "-n", "1", "--probe-images", "0",
                    "--fad", tmp_path / "no_fad.pt", "--no-progress", "--device", "cpu")
    metrics = strict_json((out / "metrics.json").read_text())
    assert metrics["intra_inter_distance_ratio"] is None and np.isfinite(metrics["mse"])
    assert strict_json(stdout[stdout.index("{"): stdout.rindex("}") + 1]) == metrics  # printed alike


# ------------------------------------------------------------------------------------------------- errors


def _damage(data, idx, how):
    images, labels = idx.names["train"]
    image_file, label_file = idx.file(data, images), idx.file(data, labels)
    if how == "missing_idx":
        label_file.unlink()
    elif how == "wrong_magic":
        payload = idx.bytes(np.zeros((4, 28, 28), np.uint8), magic=0x00000801)
        image_file.write_bytes(gzip.compress(payload))
    elif how == "truncated":
        image_file.write_bytes(gzip.compress(gzip.decompress(image_file.read_bytes())[:-100]))
    elif how == "count_mismatch":
        label_file.write_bytes(gzip.compress(idx.bytes(np.zeros(199, np.uint8))))
    elif how == "corrupt_gzip":
        image_file.write_bytes(image_file.read_bytes()[:50])
    return data


DATA_ERRORS = {
    "missing_idx": ["train-labels-idx1-ubyte", "train-images-idx3-ubyte", "t10k-images-idx3-ubyte",
                    "t10k-labels-idx1-ubyte"],
    "wrong_magic": ["magic", "0x00000801", "0x00000803"],
    "truncated": ["truncated"],
    "count_mismatch": ["200 images", "199 labels"],
    "corrupt_gzip": ["gzip"],
}


@pytest.mark.parametrize("how", sorted(DATA_ERRORS))
def test_train_with_bad_data(capsys, tmp_path, workspace, idx, how):
    _, _, config = workspace
    data = _damage(idx.folder(tmp_path / "mnist", n_train=200, n_test=10, gz=True), idx, how)
    out = tmp_path / "run"
    cli_error(capsys, *train_argv(config, data, out), fragments=DATA_ERRORS[how])
    assert not out.exists()


def test_train_with_missing_data_folder(capsys, tmp_path, workspace):
    _, _, config = workspace
    out = tmp_path / "run"
    cli_error(capsys, *train_argv(config, tmp_path / "nowhere", out), fragments=["nowhere", "not found", "--data"])
    assert not out.exists()


def test_train_without_any_data_folder(capsys, tmp_path, workspace):
    _, _, config = workspace
    out = tmp_path / "run"
    cli_error(capsys, "train", config, "--out", out, "--no-progress", fragments=["--data"])
    assert not out.exists()


def test_train_with_a_misspelt_config_key(capsys, tmp_path, workspace):
    _, data, config = workspace
    bad = tmp_path / "bad.yaml"
    bad.write_text(config.read_text().replace("latent_dim", "latnet_dim"))
    out = tmp_path / "run"
    cli_error(capsys, *train_argv(bad, data, out), fragments=["latnet_dim", "latent_dim"])
    assert not out.exists()


@pytest.mark.parametrize("text, fragments", [
    ("model: [unclosed\n", ["not valid YAML"]),
    ("model:\n  name: esvae\ntrain:\n  epochs: ten\n", ["train.epochs"]),
    ("model:\n  name: nosuch\n", ["unknown model", "esvae"]),
])
def test_train_with_other_bad_configs(capsys, tmp_path, workspace, text, fragments):
    _, data, _ = workspace
    (tmp_path / "bad.yaml").write_text(text)
    out = tmp_path / "run"
    cli_error(capsys, "train", tmp_path / "bad.yaml", "--data", data, "--out", out, "--no-progress", "--device", "cpu",
              fragments=fragments)
    assert not out.exists()


def test_train_with_a_missing_config_file(capsys, tmp_path, workspace):
    _, data, _ = workspace
    out = tmp_path / "run"
    cli_error(capsys, *train_argv(tmp_path / "missing.yaml", data, out), fragments=["missing.yaml", "not found"])
    assert not out.exists()


def test_train_with_image_size_mismatch(capsys, tmp_path, workspace, tiny_config_dict):
    _, data, _ = workspace
    raw = tiny_config_dict(dataset="mnist")
    raw["data"]["image_size"] = 16
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / "run"
    cli_error(capsys, *train_argv(tmp_path / "c.yaml", data, out), fragments=["16", "8", "model.image_size"])
    assert not out.exists()


def test_resume_with_a_checkpoint_of_another_model(capsys, tmp_path, workspace, trained_run, tiny_config_dict):
    _, data, _ = workspace
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    raw = tiny_config_dict(dataset="mnist")
    raw["model"]["latent_dim"] = 16
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(raw))
    cli_error(capsys, *train_argv(tmp_path / "other.yaml", data, run, "--resume"),
              fragments=["checkpoint", "--resume"])
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # the old run is untouched


def test_eval_of_a_run_whose_config_no_longer_fits(capsys, tmp_path, workspace, trained_run):
    _, data, _ = workspace
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["latent_dim"] = 16
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    cli_error(capsys, "eval", run, "--data", data, "--no-progress", "--device", "cpu",
              fragments=["checkpoint.pt", "config.yaml"])
    assert not (run / "eval").exists()


def test_eval_of_a_folder_that_is_not_a_run(capsys, tmp_path, workspace):
    _, data, _ = workspace
    (tmp_path / "empty").mkdir()
    cli_error(capsys, "eval", tmp_path / "empty", "--data", data, "--no-progress", fragments=["config.yaml"])
    cli_error(capsys, "eval", tmp_path / "nowhere", "--data", data, "--no-progress", fragments=["not found"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and not any((tmp_path / "empty").iterdir())


@pytest.mark.parametrize("content", [b"", b"garbage bytes", None], ids=["empty", "garbage", "missing"])
def test_eval_of_a_corrupt_checkpoint(capsys, tmp_path, workspace, trained_run, content):
    _, data, _ = workspace
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    if content is None:
        (run / "checkpoint.pt").unlink()
    else:
        (run / "checkpoint.pt").write_bytes(content)
    cli_error(capsys, "eval", run, "--data", data, "--no-progress", "--device", "cpu",
              fragments=["checkpoint.pt"])
    assert not (run / "eval").exists()


def test_eval_with_a_corrupt_fad_model(capsys, tmp_path, workspace, trained_run):
    _, data, _ = workspace
    (tmp_path / "fad.pt").write_bytes(b"not a model")
    out = tmp_path / "eval"
    cli_error(capsys, "eval", trained_run, "--data", data, "--out", out, "--fad", tmp_path / "fad.pt", "-n", "16",
              "--probe-images", "0", "--no-progress", "--device", "cpu", fragments=["fad.pt"])
    assert not out.exists() or not any(out.iterdir())


def test_fad_fit_with_bad_data_writes_nothing(capsys, tmp_path, workspace):
    _, _, config = workspace
    out = tmp_path / "fad.pt"
    cli_error(capsys, "fad-fit", config, "--data", tmp_path / "nowhere", "-o", out, "--no-progress",
              fragments=["nowhere"])
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_interrupt_keeps_the_last_checkpoint(capsys, tmp_path, workspace, monkeypatch):
    import neurovae.train.loop as loop

    _, data, config = workspace
    out = tmp_path / "run"
    real_epoch, calls = loop.train_epoch, []

    def second_epoch_interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the second epoch
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", second_epoch_interrupted)
    code = main([str(a) for a in ["train", config, "--data", data, "--out", out, "--epochs", "3", "--no-progress"]])
    captured = capsys.readouterr()
    assert code == 130 and captured.err.splitlines() == ["neurovae: interrupted"]
    assert torch.load(out / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml", "history.csv", "history.jsonl"]


@pytest.mark.parametrize("flags, key", [
    (["--batch-size", "0"], "train.batch_size"),
    (["--batch-size", "-1"], "train.batch_size"),
    (["--epochs", "-5"], "train.epochs"),
    (["--epochs", "0"], "train.epochs"),
    (["--seed", "-1"], "train.seed"),
])
def test_train_flags_are_checked_like_the_config(capsys, tmp_path, workspace, flags, key):
    _, data, config = workspace
    out = tmp_path / "run"
    cli_error(capsys, *train_argv(config, data, out), *flags, fragments=[f"config key '{key}' must be"])
    assert not out.exists()


def test_train_into_a_run_another_training_writes(capsys, tmp_path, workspace):
    from neurovae.io import lock_folder

    _, data, config = workspace
    out = tmp_path / "run"
    with lock_folder(out, "wait"):
        cli_error(capsys, *train_argv(config, data, out), fragments=[f"process {os.getpid()}", "another --out"])
    assert sorted(p.name for p in out.iterdir()) == []


def test_outputs_are_replaced_only_with_force(capsys, tmp_path, workspace, trained_run):
    _, data, config = workspace
    fad = tmp_path / "fad.pt"
    fad.write_text("earlier results")
    fit = ["fad-fit", config, "--data", data, "--epochs", "1", "--limit", "16", "-o", fad, "--no-progress"]
    cli_error(capsys, *fit, fragments=[f"{fad} exists; pass --force"])
    assert fad.read_text() == "earlier results"
    cli_ok(capsys, *fit, "--force")
    assert fad.read_bytes() != b"earlier results"

    folder = tmp_path / "results"
    (folder / "kept.txt").parent.mkdir()
    (folder / "kept.txt").write_text("earlier results")
    for argv in (["eval", trained_run, "--data", data, "--out", folder, "--no-progress"],
                 ["compare", trained_run, "-o", folder],
                 ["demo", "--data", data, "--out", folder, "--no-progress"]):
        cli_error(capsys, *argv, fragments=[f"{folder} exists; pass --force"])
    assert [p.name for p in folder.iterdir()] == ["kept.txt"]


def test_an_empty_output_folder_is_no_output(capsys, tmp_path, workspace, trained_run):
    _, data, _ = workspace
    (tmp_path / "eval").mkdir()
    cli_ok(capsys, "eval", trained_run, "--data", data, "--out", tmp_path / "eval", "-n", "16", "--probe-images",
           "0", "--fad", tmp_path / "no_fad.pt", "--no-progress", "--device", "cpu")
    assert (tmp_path / "eval" / "metrics.json").is_file()


def test_an_output_below_a_file_is_a_one_line_error(capsys, tmp_path, workspace):
    _, data, config = workspace
    (tmp_path / "taken").write_text("")
    cli_error(capsys, "fad-fit", config, "--data", data, "-o", tmp_path / "taken" / "fad.pt", "--force",
              fragments=[f"{tmp_path / 'taken'} is a file, not a folder"])
    cli_error(capsys, *train_argv(config, data, tmp_path / "taken" / "run"),
              fragments=[f"{tmp_path / 'taken'} is a file, not a folder"])
    cli_error(capsys, "fad-fit", config, "--data", data, "-o", tmp_path, "--force", fragments=["is a folder"])
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_sleep_of_a_run_of_another_model_names_it(capsys, workspace, trained_run):
    _, data, _ = workspace
    cli_error(capsys, "sleep", trained_run, "--data", data, "--no-progress",
              fragments=[f"{trained_run} is a run of model esvae", "sleep needs a cvae or vsc run"])
    assert not trained_run.with_name(trained_run.name + "-slept").exists()


def test_sleep_does_not_replace_a_slept_run_without_force(capsys, cvae_run):
    root, data = cvae_run
    (root / "slept").mkdir()
    (root / "slept" / "checkpoint.pt").write_text("an earlier sleep")
    cli_error(capsys, "sleep", root / "run", "--data", data, "--out", root / "slept", "--no-progress",
              fragments=[f"{root / 'slept'} exists; pass --force"])
    assert (root / "slept" / "checkpoint.pt").read_text() == "an earlier sleep"


# ------------------------------------------------------------------------------------------------- inputs


def one_conv_network(shape, steps=4):
    """A one-layer netx network taking spikes of ``shape`` (CHW)."""
    from neurovae.netx import ConvLayer, CubaNeuron, InputLayer, NetworkRecord

    weight = np.full((3, shape[0], 3, 3), 20)
    conv = ConvLayer(weight, CubaNeuron(iDecay=4096, vDecay=3072, vThMant=40), (3, *shape[1:]), stride=(1, 1),
                     padding=(1, 1))
    return NetworkRecord(layers=(InputLayer(shape), conv), steps=steps, precision="fixed")


@pytest.mark.parametrize("array_shape, expected", [
    ((5, 2, 6, 6), (5, 2, 6, 6)),  # N images [N, C, H, W]
    ((2, 6, 6, 7), (1, 2, 6, 6, 7)),  # one sample [C, H, W, T]
    ((3, 2, 6, 6, 7), (3, 2, 6, 6, 7)),  # N samples [N, C, H, W, T]
    ((2, 2, 2, 2), (2, 2, 2, 2)),  # reads both ways with a 2x2x2 input: N inputs, as documented
])
def test_npy_inputs_are_read_by_the_networks_input_shape(tmp_path, array_shape, expected):
    from neurovae.simulate.host import resolve_input

    np.save(tmp_path / "in.npy", np.zeros(array_shape))
    network = one_conv_network((2, 2, 2) if array_shape == (2, 2, 2, 2) else (2, 6, 6))
    assert resolve_input(str(tmp_path / "in.npy"), network, 10, 0, None).shape == expected


def test_npy_input_that_fits_neither_way_names_the_accepted_shapes(tmp_path):
    from neurovae.simulate import SimulationError
    from neurovae.simulate.host import resolve_input

    np.save(tmp_path / "in.npy", np.zeros((4, 3, 6, 6)))
    with pytest.raises(SimulationError, match=r"\(4, 3, 6, 6\); this network takes \[N, 2, 6, 6\] inputs, one sample"):
        resolve_input(str(tmp_path / "in.npy"), one_conv_network((2, 6, 6)), 10, 0, None)


def test_run_an_image_array_saved_as_npy(capsys, tmp_path):
    from neurovae.netx import write_netx

    write_netx(one_conv_network((2, 6, 6)), tmp_path / "net.net")
    np.save(tmp_path / "images.npy", np.ones((5, 2, 6, 6)))
    stdout = cli_ok(capsys, "run", tmp_path / "net.net", "--input", tmp_path / "images.npy", "--backend", "emulator",
                    "--precision", "fixed", "-n", "5", "-o", tmp_path / "out.npz", "--no-progress")
    assert "5 samples" in stdout
    assert np.load(tmp_path / "out.npz")["inputs"].shape == (5, 2, 6, 6)


@pytest.mark.parametrize("backend", ["emulator", pytest.param("lava", marks=pytest.mark.lava)])
def test_run_labels_the_reconstruction_grid_with_the_backend(capsys, tmp_path, tiny_run, monkeypatch, backend):
    """The grid's row says where the images were computed (``emulator (float)``), not ``neurovae``."""
    import neurovae.evaluate.grids as grids
    from neurovae.export import export_to_file
    from neurovae.runs import load_run

    if backend == "lava":
        pytest.importorskip("lava")
    model, _ = load_run(tiny_run)
    for part in ("encoder", "decoder"):
        export_to_file(model, part, tmp_path / f"{part}.net")
    np.save(tmp_path / "images.npy", np.zeros((2, 1, 8, 8)))
    rows = {}
    monkeypatch.setattr(grids, "save_comparison_grid",
                        lambda images, path, title, ncol: rows.update(images, title=title))
    cli_ok(capsys, "run", tmp_path / "encoder.net", tmp_path / "decoder.net", "--input", tmp_path / "images.npy",
           "--backend", backend, "-n", "2", "-o", tmp_path / "out.npz", "--no-progress")
    assert list(rows) == ["input", f"{backend} (float)", "title"]
    assert rows["title"] == f"reconstructions on {backend} (float)"


def test_console_script_exit_code_and_clean_stderr(tmp_path, workspace):
    """The installed ``neurovae`` executable, in a real process: status 2, one line, no traceback."""
    _, _, config = workspace
    script = CONSOLE_SCRIPT if CONSOLE_SCRIPT.is_file() else REPO / ".venv" / "bin" / "neurovae"
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(script), *map(str, train_argv(config, tmp_path / "nowhere", out))],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("neurovae: error: ")
    assert not out.exists()
