"""Data-parallel training: N gloo processes with global batch B train the model one process with batch B trains.

The processes are real: ``torchrun`` runs ``neurovae train`` twice over, and ``torch.multiprocessing`` spawns
two ranks for the batch-coupled terms (tdBN statistics, ESVAE's MMD) and their gradients.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import yaml

from neurovae import distributed
from neurovae.models.losses import rbf_mmd2
from neurovae.neurons.tdbn import TDBatchNorm

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _command(processes: int, *argv: str) -> None:
    """``neurovae ARGV`` in one process, or under torchrun in ``processes`` gloo processes."""
    command = [sys.executable, "-m", "neurovae.cli.main"]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                   f"--master_port={_free_port()}", "-m", "neurovae.cli.main"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*command, *argv], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _train(config, out, processes: int, *extra: str) -> None:
    """``neurovae train`` in one process, or under torchrun in ``processes`` gloo processes."""
    _command(processes, "train", str(config), "--out", str(out), "--no-progress", *extra)


def _weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]


@pytest.fixture
def ann_config(tmp_path, make_idx_folder, tiny_config_dict):
    """A deterministic model (the ANN auto-encoder draws nothing at random) on 64 images: 4 steps of batch 16."""
    data = make_idx_folder(n_train=64, n_test=16, size=8)
    config = tiny_config_dict(model="ann_ae", epochs=1, batch_size=16, lr_multipliers={})
    config["data"]["root"] = str(data)
    path = tmp_path / "ann.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_two_processes_train_the_weights_one_process_trains(ann_config, tmp_path):
    _train(ann_config, tmp_path / "one", 1)
    _train(ann_config, tmp_path / "two", 2)
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert one.keys() == two.keys()
    initial, invariant = _untrained(ann_config)
    assert invariant and all(name.endswith(".bias") for name in invariant)
    following = {name.replace(".0.bias", ".1.running_mean") for name in invariant}  # the norm's input mean holds it
    assert following <= set(one)
    for name in set(one) - invariant - following:
        torch.testing.assert_close(two[name], one[name], rtol=1e-5, atol=1e-6, msg=name)
    assert all(not torch.equal(one[name], initial[name]) for name in ("encoder.0.0.weight", "decoder.0.weight"))
    history = (tmp_path / "two" / "history.jsonl").read_text().splitlines()
    assert len(history) == 1 and '"images": 64' in history[0]  # rank 0 wrote the global batch's record alone


def _untrained(config) -> tuple[dict[str, torch.Tensor], set[str]]:
    """The initial weights, and the parameters the loss does not depend on.

    A convolution's bias before a batch norm is such a parameter: its gradient is rounding noise, which Adam scales
    up to full steps, so its value after training depends on the order of floating-point sums, not on the data.
    """
    from neurovae.config import load_config
    from neurovae.train.loop import build_model, seed_everything

    loaded = load_config(config)
    seed_everything(loaded.train.seed)
    model = build_model(loaded)
    initial = {name: value.clone() for name, value in model.state_dict().items()}
    images = torch.rand(16, 1, 8, 8) * 2 - 1
    model.loss(images, model(images))["loss"].backward()
    invariant = {name for name, p in model.named_parameters() if p.grad.abs().max() < 1e-6}
    return initial, invariant


def test_esvae_trains_and_resumes_in_two_processes(tmp_path, make_idx_folder, tiny_config_dict):
    """The full spiking model under DDP (tdBN synchronised, MMD gathered), checkpointed and resumed."""
    data = make_idx_folder(n_train=64, n_test=16, size=8)
    config = tiny_config_dict(model="esvae", epochs=1, batch_size=16)
    config["data"]["root"] = str(data)
    path = tmp_path / "esvae.yaml"
    path.write_text(yaml.safe_dump(config))
    _train(path, tmp_path / "run", 2)
    _train(path, tmp_path / "run", 2, "--resume", "--epochs", "2")
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert state["epoch"] == 2 and len(state["ranks"]) == 2
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == 2


def _ranks_worker(rank: int, port: int, data: torch.Tensor, rates: torch.Tensor, out: str) -> None:
    """Rank ``rank`` of 2: tdBN and MMD on its half of the batch, gradients of the global loss."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.save(_coupled_terms(data.chunk(2)[rank], rates.chunk(2)[rank]), f"{out}.{rank}")
    distributed.leave(distributed.Group(rank=rank, world=2))
    # Skip interpreter finalisation: there, gloo's worker threads can still release tensors of the autograd
    # collectives and abort the process with SIGABRT ("terminate called without an active exception") about
    # once in 30 runs on a busy machine, after every result is written.
    os._exit(0)


def _coupled_terms(data: torch.Tensor, rates: torch.Tensor) -> dict[str, torch.Tensor]:
    """A loss of tdBN's output and the MMD of ``rates`` to a fixed prior set, and its gradients."""
    torch.manual_seed(0)
    norm = TDBatchNorm(3, threshold=0.5).train()
    data, rates = data.clone().requires_grad_(), rates.clone().requires_grad_()
    normed = norm(data)
    mmd = rbf_mmd2(distributed.gather_batch(rates), torch.linspace(0, 1, 24).reshape(6, 4))
    loss = normed.pow(3).mean() + mmd  # a per-sample mean plus a batch-coupled term, as a model's loss
    loss.backward()
    grads = {name: p.grad.clone() for name, p in norm.named_parameters()}
    if distributed.active():  # what DistributedDataParallel does: the mean of the processes' gradients
        for grad in grads.values():
            dist.all_reduce(grad)
            grad /= 2
        mmd_grad = rates.grad / 2  # each rank's MMD is the global one: its gradient counts once per process
    else:
        mmd_grad = rates.grad
    return {"out": normed.detach(), "mmd": mmd.detach(), "data_grad": data.grad, "rates_grad": mmd_grad,
            "running_mean": norm.running_mean, **grads}


def test_batch_coupled_terms_of_two_ranks_equal_one_process(tmp_path):
    generator = torch.Generator().manual_seed(1)
    data = torch.randn(8, 3, 5, generator=generator) * 2 + 1
    rates = torch.rand(8, 4, generator=generator)
    alone = _coupled_terms(data, rates)
    torch.multiprocessing.spawn(_ranks_worker, args=(_free_port(), data, rates, str(tmp_path / "rank")), nprocs=2)
    parts = [torch.load(tmp_path / f"rank.{rank}") for rank in range(2)]
    torch.testing.assert_close(torch.cat([p["out"] for p in parts]), alone["out"])
    # each rank's loss is its half's mean: the global mean's gradient is half of it (the statistics' share included)
    torch.testing.assert_close(torch.cat([p["data_grad"] for p in parts]) / 2, alone["data_grad"])
    for part in parts:
        torch.testing.assert_close(part["mmd"], alone["mmd"])
        torch.testing.assert_close(part["running_mean"], alone["running_mean"])
        for name in ("weight", "bias"):
            torch.testing.assert_close(part[name], alone[name])
    torch.testing.assert_close(torch.cat([p["rates_grad"] for p in parts]), alone["rates_grad"])


def test_run_and_energy_shard_their_batches_across_processes(tmp_path):
    """``neurovae run`` / ``energy`` under torchrun: the same .npz and counts as one process."""
    import json

    import numpy as np

    from neurovae.netx import CubaNeuron, DenseLayer, InputLayer, NetworkRecord, write_netx

    rng = np.random.default_rng(3)
    neuron = CubaNeuron(vDecay=512, vThMant=64)
    network = NetworkRecord(layers=(InputLayer((6,)), DenseLayer(rng.integers(-60, 90, (5, 6)), neuron),
                                    DenseLayer(rng.integers(-60, 90, (3, 5)), neuron)), precision="fixed")
    net = write_netx(network, tmp_path / "net.net")
    np.save(tmp_path / "in.npy", rng.random((7, 6, 9)) < 0.5)
    outputs = {}
    for processes in (1, 2):
        common = [str(net), "--input", str(tmp_path / "in.npy"), "--backend", "emulator", "--precision", "fixed",
                  "--batch-size", "2", "--no-progress"]
        _command(processes, "run", *common, "--voltages", "-o", str(tmp_path / f"run{processes}.npz"))
        _command(processes, "energy", *common, "-o", str(tmp_path / f"energy{processes}.json"))
        outputs[processes] = np.load(tmp_path / f"run{processes}.npz")
    assert outputs[1]["layer2_spikes"].shape == (7, 3, 9) and outputs[1]["layer1_spikes"].any()
    for key in outputs[1].files:
        np.testing.assert_array_equal(outputs[2][key], outputs[1][key], err_msg=key)
    one, two = (json.loads((tmp_path / f"energy{n}.json").read_text()) for n in (1, 2))
    assert one["reports"][0]["layers"] == two["reports"][0]["layers"]
