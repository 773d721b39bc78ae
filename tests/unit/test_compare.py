"""`neurovae compare`: evaluated runs side by side with the papers' figures (from metrics.json, never typed in),
a grid with one row per run, and one-line errors for folders that are not evaluated runs."""

import json
import shutil

import pytest
import yaml

from neurovae.cli.main import main
from neurovae.config import load_config
from neurovae.evaluate.compare import markdown_table, paper_model, summarize_run
from neurovae.evaluate.papers import PAPER_FIGURES, paper_figure


@pytest.fixture(scope="module")
def evaluated_runs(tmp_path_factory, tiny_config_dict, idx):
    """Two tiny ESVAE runs on an MNIST-format folder (1 and 2 epochs), each evaluated by `neurovae eval`."""
    root = tmp_path_factory.mktemp("compare")
    data = idx.folder(root / "mnist", n_train=64, n_test=16, gz=True)
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(dataset="mnist", batch_size=32)))
    runs = []
    for epochs in (1, 2):
        run = root / f"esvae_{epochs}"
        argv = ["train", config, "--data", data, "--out", run, "--epochs", epochs, "--no-progress", "--device", "cpu"]
        assert main([str(a) for a in argv]) == 0
        argv = ["eval", run, "--data", data, "-n", "16", "--probe-images", "32", "--fad", root / "none.pt",
                "--no-progress", "--device", "cpu"]
        assert main([str(a) for a in argv]) == 0
        runs.append(run)
    return data, runs


def test_table_reads_every_number_from_the_runs_and_the_paper_column_names_its_source(evaluated_runs):
    _, runs = evaluated_runs
    summaries = [summarize_run(run) for run in runs]
    assert [s.images_seen for s in summaries] == [64, 128] and [s.epochs for s in summaries] == [1, 2]
    table = markdown_table(summaries)
    for run, summary in zip(runs, summaries, strict=True):
        measured = json.loads((run / "eval" / "metrics.json").read_text())["mse"]
        assert f"| {run.name} (esvae) | mnist | {summary.images_seen} | {measured:.4g} (0.013) |" in table
    assert "Zhan et al. 2024 (ESVAE), Table I" in table


def test_compare_cli_writes_markdown_and_one_grid_row_per_run(evaluated_runs, tmp_path, capsys):
    data, runs = evaluated_runs
    code = main(["compare", *map(str, runs), "--data", str(data), "-o", str(tmp_path), "--images", "4"])
    out = capsys.readouterr().out
    assert code == 0 and "esvae_2 (esvae)" in out
    assert (tmp_path / "comparison.md").read_text().strip() == out[:out.index("wrote")].strip()
    assert (tmp_path / "compare_mnist_8.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_refuses_folders_that_are_not_evaluated_runs(evaluated_runs, tmp_path, capsys):
    _, runs = evaluated_runs
    unevaluated = tmp_path / "run"
    shutil.copytree(runs[0], unevaluated)
    shutil.rmtree(unevaluated / "eval")
    for folder, fragment in ((unevaluated, "run `neurovae eval"), (tmp_path / "nothing", "not a run directory")):
        code = main(["compare", str(folder), "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and fragment in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_paper_figures_are_unique_and_slept_runs_compare_as_vae_sleep(tmp_path):
    keys = [(f.model, f.dataset, f.metric) for f in PAPER_FIGURES]
    assert len(keys) == len(set(keys))
    assert paper_figure("esvae", "fashion_mnist", "mse").value == 0.019
    assert paper_figure("vae-sleep", "fashion_mnist", "noisy_ssim").value == 0.710
    config = load_config("configs/esvae_fmnist_small.yaml")
    assert paper_model(config, tmp_path) == "esvae"
    (tmp_path / "sleep.json").write_text("{}")
    assert paper_model(config, tmp_path) == "vae-sleep"


def test_images_seen_counts_an_epoch_whose_history_line_was_lost(tmp_path):
    from neurovae.evaluate.compare import images_seen

    (tmp_path / "history.jsonl").write_text(json.dumps({"epoch": 2, "images": 640}) + "\n")
    assert images_seen(tmp_path, {"epoch": 2}) == 1280  # epoch 1 trained the same 640 images
    assert images_seen(tmp_path, {"epoch": 2, "epoch_progress": {"images": 64}}) == 1344
    assert images_seen(tmp_path / "empty", {"epoch": 0}) == 0


def _copy_run(run, to, **metrics):
    """A copy of an evaluated run at ``to``, its metrics.json changed by ``metrics`` (strict JSON: null, no NaN)."""
    shutil.copytree(run, to)
    path = to / "eval" / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **metrics}, allow_nan=False))
    return to


def test_runs_in_folders_of_the_same_name_get_distinct_rows(evaluated_runs, tmp_path, capsys, monkeypatch):
    import neurovae.evaluate.grids as grids

    data, runs = evaluated_runs
    same = [_copy_run(runs[0], tmp_path / "a" / "esvae"), _copy_run(runs[1], tmp_path / "b" / "x" / "esvae"),
            _copy_run(runs[1], tmp_path / "c" / "x" / "esvae")]
    grid_rows = []
    monkeypatch.setattr(grids, "save_comparison_grid", lambda rows, *args, **kwargs: grid_rows.append(list(rows)))
    assert main(["compare", *map(str, same), "--data", str(data), "-o", str(tmp_path / "out"), "--images", "2"]) == 0
    out = capsys.readouterr().out
    labels = ["a/esvae (esvae)", "b/x/esvae (esvae)", "c/x/esvae (esvae)"]
    assert all(f"| {label} | mnist |" in out for label in labels)
    assert grid_rows == [["input", *labels]]


def test_the_same_run_twice_is_a_one_line_error(evaluated_runs, tmp_path, capsys):
    _, runs = evaluated_runs
    code = main(["compare", str(runs[0]), str(runs[0]) + "/", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "given twice" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_runs_evaluated_on_different_test_sizes_are_flagged(evaluated_runs, tmp_path):
    _, runs = evaluated_runs
    same_size = markdown_table([summarize_run(run) for run in runs])
    assert "test images" not in same_size and "Note:" not in same_size
    smaller = _copy_run(runs[1], tmp_path / "smaller", test_images=8)
    table = markdown_table([summarize_run(runs[0]), summarize_run(smaller)])
    assert "| run | dataset | images seen | test images |" in table
    assert "| smaller (esvae) | mnist | 128 | 8 |" in table
    assert "Note: the mnist runs were evaluated on different numbers of test images (8, 16)" in table


def test_null_metrics_read_as_missing(evaluated_runs, tmp_path):
    _, runs = evaluated_runs
    run = _copy_run(runs[0], tmp_path / "nulls", mse=None, probe_accuracy=None)
    table = markdown_table([summarize_run(run)])
    assert "| nulls (esvae) | mnist | 64 | - (0.013) |" in table
