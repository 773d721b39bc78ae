"""Data-parallel training on ``torch.distributed``: one process per device, launched by ``torchrun``.

``torchrun --nproc_per_node=N $(which neurovae) train CONFIG --out RUN`` starts N processes; each finds its rank
in the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and joins the process group (gloo on
CPUs, nccl on CUDA GPUs, where process k uses ``cuda:LOCAL_RANK``). Every process computes the same global batches
of an epoch (:func:`~neurovae.train.loop.epoch_batches`) and takes its N-th part of each, so the processes
together see exactly the batches one process would; ``DistributedDataParallel`` averages the gradients.

What couples the images of a batch is computed over the whole global batch, so N processes with batch B train
the model one process with batch B trains (the gradients equal to float rounding):

- tdBN's batch statistics: each process's sums are added over the group (:func:`all_reduce_sum`, through which
  gradients flow);
- ESVAE's MMD between posterior and prior rates: the rate vectors are gathered from every process first
  (:func:`gather_batch`).

Random draws (Poisson sampling, noise) come from a generator seeded per process (``seed + rank``): they are
different draws than one process would make, as with any data-parallel training.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from neurovae.errors import ConfigError


@dataclass(frozen=True)
class Group:
    """This process's place in the group (a single process: rank 0 of 1).

    Attributes:
        rank: the process's rank, 0..world-1.
        world: the number of processes.
        local_rank: its rank on its machine (the GPU it uses).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes the run's files (rank 0)."""
        return self.rank == 0

    def shard(self, batch: list[int]) -> list[int]:
        """This process's images of a global batch: its contiguous part, in order (rank 0 first)."""
        return batch[self.rank * len(batch) // self.world:(self.rank + 1) * len(batch) // self.world]

    def barrier(self) -> None:
        """Wait until every process gets here (nothing to wait for alone)."""
        if self.world > 1:
            dist.barrier()


def join(device: torch.device) -> Group:
    """Join the process group that torchrun's environment describes (no environment: a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Group()
    if not dist.is_available():
        raise ConfigError("this torch has no torch.distributed; train with one process")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Group(rank=rank, world=world, local_rank=local_rank)


def leave(group: Group) -> None:
    """Leave the process group (after the last collective).

    A barrier first, so that no process tears down its connections while a peer still waits on them.
    """
    if group.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def active() -> bool:
    """Whether this process trains in a group of more than one."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over the group, differentiable (alone: ``tensor`` itself)."""
    if not active():
        return tensor
    with _public_collectives():
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(tensor, op=dist.ReduceOp.SUM)


def gather_batch(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's ``tensor`` ``[n, ...]`` joined along the batch axis in rank order, differentiable."""
    if not active():
        return tensor
    with _public_collectives():
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(tensor))


@contextlib.contextmanager
def _public_collectives() -> Iterator[None]:
    """Quiet the FutureWarning of ``torch.distributed.nn.functional``: its successor is still a private module."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.distributed\.nn\.functional", category=FutureWarning)
        yield


def gather_objects(value: object) -> list[object]:
    """Every process's ``value`` (picklable), in rank order."""
    if not active():
        return [value]
    values: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def batch_statistics(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per-channel ``(variance, mean, count)`` of ``data`` ``[N, C, ...]``: the global batch's in a group.

    Alone, ``torch.var_mean`` (biased). In a group, each process's sums and sums of squares are added over the
    group, so the statistics (and their gradients) are those of the whole global batch.
    """
    dims = [0, *range(2, data.dim())]
    count = data.numel() // data.shape[1]
    if not active():
        var, mean = torch.var_mean(data, dim=dims, unbiased=False)
        return var, mean, count
    sums = all_reduce_sum(torch.stack([data.sum(dims), data.square().sum(dims)]))
    count = int(all_reduce_sum(torch.tensor(float(count), device=data.device)).item())
    mean = sums[0] / count
    return (sums[1] / count - mean.square()).clamp_min(0.0), mean, count


class GroupBatchNorm(nn.modules.batchnorm._BatchNorm):
    """``BatchNorm`` whose training statistics are the global batch's (:func:`batch_statistics`).

    PyTorch's ``SyncBatchNorm`` does this on GPUs only; this runs on any device and keeps the state-dict names of
    the module it replaces, so a checkpoint loads into the model trained by one process.
    """

    def _check_input_dim(self, data: torch.Tensor) -> None:
        if data.dim() < 2:
            raise ValueError(f"expected a batch [N, C, ...], got {tuple(data.shape)}")

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        """Normalise with the global batch's statistics in training, the running ones in eval."""
        if not self.training:
            return super().forward(data)
        var, mean, count = batch_statistics(data)
        with torch.no_grad():
            self.num_batches_tracked += 1
            momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.lerp_(mean, momentum)
            self.running_var.lerp_(var * count / max(count - 1, 1), momentum)
        shape = (1, -1, *[1] * (data.dim() - 2))
        scale = torch.rsqrt(var + self.eps) * (self.weight if self.affine else 1.0)
        shift = -mean * scale + (self.bias if self.affine else 0.0)
        return data * scale.reshape(shape) + shift.reshape(shape)


def convert_batch_norms(module: nn.Module) -> nn.Module:
    """Replace every plain ``BatchNorm1d/2d/3d`` of ``module`` by a :class:`GroupBatchNorm` with its state.

    Subclasses (tdBN) are left alone: they compute their statistics with :func:`batch_statistics` themselves.
    """
    for name, child in module.named_children():
        if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
            replacement = GroupBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                         child.track_running_stats, device=child.running_mean.device)
            replacement.load_state_dict(child.state_dict())
            replacement.train(child.training)
            setattr(module, name, replacement)
        else:
            convert_batch_norms(child)
    return module
