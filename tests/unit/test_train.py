"""Training: exact resume, seeding, atomic checkpoints, history, optimizer groups, device choice."""

import csv
import json
import os
import re
import subprocess
import sys

import pytest
import torch

from neurovae.config import RunConfig, TrainConfig, load_config
from neurovae.config.schema import DataConfig
from neurovae.errors import CheckpointError, ConfigError, OutputError
from neurovae.io import atomic_path, lock_folder
from neurovae.train.checkpoint import load_checkpoint, open_run, save_checkpoint
from neurovae.train.loop import build_model, build_optimizer, pick_device, train


@pytest.fixture
def config(tiny_model_config):
    def make(epochs=1, seed=0, **train_fields):
        fields = {"epochs": epochs, "batch_size": 8, "lr": 0.003, "seed": seed, "device": "cpu",
                  "lr_multipliers": {"bottleneck": 10.0}, **train_fields}
        return RunConfig("esvae", tiny_model_config("esvae"), DataConfig(dataset="mnist", image_size=8),
                         TrainConfig(**fields))

    return make


def run(config, out, dataset, **kwargs):
    return train(config, str(out), dataset, progress=False, log=lambda _: None, **kwargs)


def assert_same_state(a, b):
    """Every tensor of two (nested) state dicts is identical, bit for bit."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_state(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_state(x, y)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    else:
        assert a == b


RUN_FILES = ["checkpoint.pt", "config.yaml", "history.csv", "history.jsonl"]


def history(paths):
    return [json.loads(line) for line in paths.history.read_text().splitlines()]


def test_two_epochs_equal_one_plus_resume_one(tmp_path, config, tiny_dataset):
    straight = run(config(epochs=2), tmp_path / "straight", tiny_dataset)
    run(config(epochs=1), tmp_path / "resumed", tiny_dataset)
    after_one = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    resumed = run(config(epochs=2), tmp_path / "resumed", tiny_dataset, resume=True)

    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    assert a["epoch"] == b["epoch"] == 2
    assert_same_state(a["model"], b["model"])
    assert_same_state(a["optimizer"], b["optimizer"])
    assert_same_state(a["rng"]["torch"], b["rng"]["torch"])
    # the resumed epoch really trained: the weights moved after the first epoch
    assert not torch.equal(after_one["model"]["bottleneck.0.weight"], b["model"]["bottleneck.0.weight"])
    # history: one line per epoch in both, with the same losses
    drop = ("seconds", "images_per_s")
    assert [{k: v for k, v in h.items() if k not in drop} for h in history(straight)] == [
        {k: v for k, v in h.items() if k not in drop} for h in history(resumed)]


def test_validation_is_logged_per_epoch_and_does_not_change_the_training(tmp_path, config, tiny_dataset):
    plain = run(config(epochs=2), tmp_path / "plain", tiny_dataset)
    validated = run(config(epochs=2), tmp_path / "validated", tiny_dataset, validation=tiny_dataset)
    assert_same_state(load_checkpoint(plain.checkpoint)["model"], load_checkpoint(validated.checkpoint)["model"])
    records = history(validated)
    assert [r["epoch"] for r in records] == [1, 2] and all(0 < r["val_mse"] < 4 for r in records)
    assert "val_mse" not in history(plain)[0]
    with validated.history_csv.open() as table:
        rows = list(csv.DictReader(table))
    assert [float(r["val_mse"]) for r in rows] == [r["val_mse"] for r in records]
    assert [int(r["images"]) for r in rows] == [r["images"] for r in records]


def test_interrupted_mid_epoch_resumes_bit_for_bit(tmp_path, config, tiny_dataset, monkeypatch):
    """A run killed between mid-epoch checkpoints continues from the last one exactly."""
    straight = run(config(epochs=2, checkpoint_every=2, batch_size=4), tmp_path / "straight", tiny_dataset)

    import neurovae.train.loop as loop

    real_add, calls = loop.EpochProgress.add, {"n": 0}

    def add_then_die(self, *args):
        real_add(self, *args)
        calls["n"] += 1
        if calls["n"] == 5:  # after batch 5 of epoch 1: the last checkpoint holds 4 batches
            raise KeyboardInterrupt

    monkeypatch.setattr(loop.EpochProgress, "add", add_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(config(epochs=2, checkpoint_every=2, batch_size=4), tmp_path / "resumed", tiny_dataset)
    monkeypatch.setattr(loop.EpochProgress, "add", real_add)
    middle = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert middle["epoch"] == 0 and middle["epoch_progress"]["batches"] == 4
    resumed = run(config(epochs=2, checkpoint_every=2, batch_size=4), tmp_path / "resumed", tiny_dataset, resume=True)

    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    assert_same_state(a["model"], b["model"])
    assert_same_state(a["optimizer"], b["optimizer"])
    drop = ("seconds", "images_per_s")
    assert [{k: v for k, v in h.items() if k not in drop} for h in history(straight)] == [
        {k: v for k, v in h.items() if k not in drop} for h in history(resumed)]


def test_resume_of_a_finished_run_trains_nothing(tmp_path, config, tiny_dataset):
    paths = run(config(epochs=1), tmp_path / "r", tiny_dataset)
    before = paths.checkpoint.read_bytes()
    run(config(epochs=1), tmp_path / "r", tiny_dataset, resume=True)
    assert paths.checkpoint.read_bytes() == before
    assert len(history(paths)) == 1


def test_seed_makes_runs_identical_and_a_new_seed_differs(tmp_path, config, tiny_dataset):
    a = load_checkpoint(run(config(), tmp_path / "a", tiny_dataset).checkpoint)
    b = load_checkpoint(run(config(), tmp_path / "b", tiny_dataset).checkpoint)
    c = load_checkpoint(run(config(seed=1), tmp_path / "c", tiny_dataset).checkpoint)
    assert_same_state(a["model"], b["model"])
    assert_same_state(a["optimizer"], b["optimizer"])
    assert not torch.equal(a["model"]["bottleneck.0.weight"], c["model"]["bottleneck.0.weight"])


def test_run_directory_contents_and_history(tmp_path, config, tiny_dataset):
    paths = run(config(epochs=3), tmp_path / "run", tiny_dataset)
    assert sorted(p.name for p in paths.root.iterdir()) == RUN_FILES
    lines = history(paths)
    assert [h["epoch"] for h in lines] == [1, 2, 3]
    for line in lines:
        assert {"loss", "mse", "mmd", "images", "seconds", "images_per_s"} <= line.keys()
        assert line["images"] == len(tiny_dataset)
        assert line["loss"] == pytest.approx(line["mse"] + 0.001 * line["mmd"], rel=1e-4)
    assert load_config(paths.config) == config(epochs=3)
    _, loaded_config, state = open_run(paths.root)
    assert loaded_config == config(epochs=3) and state["epoch"] == 3
    model = build_model(loaded_config)
    model.load_state_dict(state["model"])  # a fresh model takes the checkpoint as it is


def test_training_from_scratch_restarts_the_history(tmp_path, config, tiny_dataset):
    run(config(epochs=2), tmp_path / "run", tiny_dataset)
    paths = run(config(epochs=1), tmp_path / "run", tiny_dataset)
    assert [h["epoch"] for h in history(paths)] == [1]


def test_failed_checkpoint_write_leaves_the_old_one_untouched(tmp_path, config, tiny_dataset, monkeypatch):
    paths = run(config(epochs=1), tmp_path / "run", tiny_dataset)
    before = paths.checkpoint.read_bytes()
    real_save = torch.save

    def crash_midway(obj, f, *args, **kwargs):
        real_save({"partial": torch.zeros(1000)}, f)  # some bytes reach the disk, then the process "dies"
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        run(config(epochs=2), tmp_path / "run", tiny_dataset, resume=True)
    assert paths.checkpoint.read_bytes() == before
    assert sorted(p.name for p in paths.root.iterdir()) == RUN_FILES
    assert len(history(paths)) == 1
    monkeypatch.undo()
    assert load_checkpoint(paths.checkpoint)["epoch"] == 1


def test_save_checkpoint_is_a_rename(tmp_path, config, tiny_dataset, monkeypatch):
    """The checkpoint is written to a temporary file beside it and renamed, never written in place."""
    paths = run(config(epochs=1), tmp_path / "run", tiny_dataset)
    written = []
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: (written.append(f), real_save(obj, f, *a, **k)))
    model = build_model(config())
    save_checkpoint(paths, model, None, epoch=5)
    assert len(written) == 1 and written[0] != paths.checkpoint and written[0].parent == paths.root
    assert not written[0].exists()
    assert load_checkpoint(paths.checkpoint)["epoch"] == 5


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04garbage"])
def test_corrupt_checkpoint_is_a_one_line_error(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_checkpoint_without_model_is_rejected(tmp_path):
    torch.save({"weights": 1}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="not a neurovae checkpoint"):
        load_checkpoint(tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_open_run_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        open_run(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="config.yaml"):
        open_run(tmp_path)


def test_optimizer_groups_apply_lr_multipliers(config):
    model = build_model(config())
    optimizer = build_optimizer(model, config())
    rest, bottleneck = optimizer.param_groups
    assert rest["lr"] == pytest.approx(0.003) and bottleneck["lr"] == pytest.approx(0.03)
    assert {id(p) for p in bottleneck["params"]} == {id(p) for p in model.bottleneck.parameters()}
    every = [id(p) for g in optimizer.param_groups for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in model.parameters())  # each parameter exactly once
    assert all(g["weight_decay"] == pytest.approx(0.001) for g in optimizer.param_groups)


def test_lr_multiplier_for_an_unknown_part(config):
    with pytest.raises(ConfigError, match="decodr"):
        build_optimizer(build_model(config()), config(lr_multipliers={"decodr": 2.0}))


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="tpu"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="--device cpu"):
            pick_device("cuda")


def test_non_finite_loss_stops_with_a_clear_error(tmp_path, config, tiny_dataset):
    tiny_dataset.images[0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="lower train.lr"):
        run(config(), tmp_path / "run", tiny_dataset)


# ---------------------------------------------------------------------------- run lock, killed writers' leftovers

HOLD_LOCK = """
import sys
from neurovae.io import lock_folder
with lock_folder(sys.argv[1], "hint"):
    print("locked", flush=True)
    sys.stdin.read()
"""

KILLED_MID_WRITE = """
import os, signal, sys
from neurovae.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a checkpoint")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def python(code, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], text=True, **kwargs)


def test_a_second_training_into_a_run_is_refused_until_the_first_ends(tmp_path, config, tiny_dataset):
    out = tmp_path / "run"
    holder = python(HOLD_LOCK, out, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(OutputError, match=re.escape(f"{out} is being written by process {holder.pid}; wait")):
            run(config(), out, tiny_dataset)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing of the refused run was written
    finally:
        holder.kill()  # kill -9: the kernel releases the lock, the lock file stays behind
        holder.wait()
    paths = run(config(), out, tiny_dataset)
    assert sorted(p.name for p in paths.root.iterdir()) == RUN_FILES  # lock taken over and removed at the end
    with lock_folder(out, "hint"), pytest.raises(OutputError, match=f"process {os.getpid()}; hint"):
        with lock_folder(out, "hint"):  # a second holder in the same process is refused too
            pass


def test_temporary_files_of_killed_writers_are_removed_on_the_next_start(tmp_path, config, tiny_dataset):
    out = tmp_path / "run"
    python(KILLED_MID_WRITE, out / "checkpoint.pt").wait()
    python(KILLED_MID_WRITE, out / "history.csv").wait()
    names = sorted(p.name for p in out.iterdir())
    assert [name.split(".")[1] for name in names] == ["checkpoint", "history"] and names[0].endswith(".tmp")
    live = out / f".checkpoint.pt.{os.getpid()}.busy.tmp"  # a running writer's file is never touched
    live.write_bytes(b"")
    with atomic_path(out / "checkpoint.pt") as tmp:  # the next write of the same file removes its own leftovers
        tmp.write_bytes(b"whole")
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, "checkpoint.pt", names[1]])
    run(config(), out, tiny_dataset)  # a training holding the run's lock removes every leftover in it
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, *RUN_FILES])


def test_a_file_where_the_run_folder_must_be_is_a_one_line_error(tmp_path, config, tiny_dataset):
    (tmp_path / "taken").write_text("")
    for out in (tmp_path / "taken", tmp_path / "taken" / "run"):
        with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'taken'} is a file, not a folder")):
            run(config(), out, tiny_dataset)
