"""Write netx files with lava-dl's own SLAYER blocks, the way lava-dl's tests export them."""

from pathlib import Path

import h5py
import numpy as np
import torch


def export_slayer(path: Path, blocks: list, input_shape: tuple[int, ...]) -> Path:
    """Export SLAYER ``blocks`` to ``path``; layer 0 is a shape-only input layer (so a spike source can feed it)."""
    x = (torch.rand(1, *input_shape, 4) < 0.4).float()
    for block in blocks:  # a forward pass fixes the neuron shapes
        x = block(x)
    with h5py.File(path, "w") as handle:
        layers = handle.create_group("layer")
        first = layers.create_group("0")
        first.create_dataset("type", (1,), "S10", [b"input"])
        first.create_dataset("shape", data=np.array(input_shape))
        for index, block in enumerate(blocks, start=1):
            block.export_hdf5(layers.create_group(str(index)))
    return path


def export_slayer_network(path: Path, blocks: list, sample: torch.Tensor, t_sample: int | None = None) -> Path:
    """Export ``blocks`` as a SLAYER network's ``export_hdf5`` writes it: the blocks alone (layer 0 is the first
    block: an Input block, or a dense layer) and, with ``t_sample``, the ``simulation`` group."""
    x = sample
    for block in blocks:  # a forward pass fixes the neuron shapes
        x = block(x)
    with h5py.File(path, "w") as handle:
        if t_sample is not None:
            simulation = handle.create_group("simulation")
            simulation["Ts"] = 1
            simulation["tSample"] = t_sample
        layers = handle.create_group("layer")
        for index, block in enumerate(blocks):
            block.export_hdf5(layers.create_group(str(index)))
    return path
