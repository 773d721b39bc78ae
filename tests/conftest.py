"""Shared fixtures: tiny MNIST-format IDX folders, tiny model configs, tiny in-memory datasets.

Everything here is small enough that a whole training run takes well under a second on one CPU core.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from neurovae.data import InMemoryImageDataset
from neurovae.registry import MODELS

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""The four standard file names of an MNIST-format folder (without the optional ``.gz``)."""

TINY_FIELDS = {
    "channels": (4, 8),
    "image_size": 8,
    "latent_dim": 8,
    "steps": 6,
    "in_channels": 1,
    "kernel_size": 3,  # the SAE's unpadded convolutions need it on 8x8 images
    "input_scale": 1.0,  # the SAE's Poisson input at full rate, so that a tiny SAE fires within T = 6
}
"""Hyper-parameters that make any registered model tiny (applied where the model's config has the field).

``steps`` must exceed the decoder's depth in synapses (each adds one step of delay; 4 here), or no latent spike
reaches the readout within the ``T`` steps and the reconstruction cannot depend on the image."""

TINY_TRAIN = {"epochs": 1, "batch_size": 16, "lr": 0.003, "device": "cpu", "seed": 0,
              "lr_multipliers": {"bottleneck": 10.0}}



def pytest_configure(config):
    """One intra-op thread: the tests' tensors are tiny, and on a busy machine OpenMP threads that spin-wait for
    each other make them several times slower. ``NEUROVAE_TEST_THREADS=N`` overrides."""
    torch.set_num_threads(int(os.environ.get("NEUROVAE_TEST_THREADS", "1")))


# --------------------------------------------------------------------------------------------- IDX files


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file (header + uint8 payload) holding ``array``."""
    magic = 0x800 + array.ndim if magic is None else magic
    dims = np.array(array.shape, dtype=">u4").tobytes()
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def write_idx(path: Path, data: bytes, gz: bool) -> Path:
    """Write ``data`` to ``path`` (``path.gz`` gzip-compressed when ``gz``); returns the file written."""
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_idx_folder(folder: Path, n_train: int = 200, n_test: int = 100, size: int = 28, gz: bool = True,
                     seed: int = 0) -> Path:
    """Fill ``folder`` with the four MNIST-format files: random images, labels cycling through 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        image_name, label_name = IDX_NAMES[split]
        write_idx(folder / image_name, idx_bytes(images), gz)
        write_idx(folder / label_name, idx_bytes(labels), gz)
    return folder


def idx_file(folder: Path, name: str) -> Path:
    """The file in ``folder`` holding the standard ``name`` (plain or ``.gz``)."""
    return next(folder.glob(name + "*"))


@pytest.fixture(scope="session")
def idx():
    """The IDX helpers (``idx.bytes``, ``idx.write``, ``idx.file``, ``idx.names``) for tests that damage files."""
    return SimpleNamespace(bytes=idx_bytes, write=write_idx, file=idx_file, names=IDX_NAMES, folder=write_idx_folder)


@pytest.fixture
def make_idx_folder(tmp_path_factory):
    """Factory: ``make_idx_folder(n_train=200, n_test=100, size=28, gz=True)`` -> a fresh IDX folder."""

    def make(**kwargs) -> Path:
        return write_idx_folder(tmp_path_factory.mktemp("idx"), **kwargs)

    return make


@pytest.fixture
def fmnist_dir(make_idx_folder) -> Path:
    """A Fashion-MNIST-format folder: 200 train and 100 test 28x28 images, gzip-compressed."""
    return make_idx_folder()


# --------------------------------------------------------------------------------------------- tiny models


def tiny_model_config(name: str, **overrides):
    """The registered model ``name``'s config dataclass with :data:`TINY_FIELDS` (where it has them)."""
    config_class = MODELS.entry(name).config_class
    fields = {f.name for f in dataclasses.fields(config_class)}
    values = {k: v for k, v in {**TINY_FIELDS, **overrides}.items() if k in fields}
    return config_class(**values)


@pytest.fixture(scope="session", name="tiny_model_config")
def tiny_model_config_fixture():
    """Factory: ``tiny_model_config(name, **overrides)`` -> a tiny config dataclass for a registered model."""
    return tiny_model_config


def tiny_config_dict(dataset: str = "mnist", model: str = "esvae", image_size: int = 8, **train) -> dict:
    """A YAML-ready run config with a tiny model and fast training."""
    model_fields = {k: (list(v) if isinstance(v, tuple) else v) for k, v in TINY_FIELDS.items()}
    model_fields["image_size"] = image_size
    config_class = MODELS.entry(model).config_class
    names = {f.name for f in dataclasses.fields(config_class)}
    return {
        "model": {"name": model, **{k: v for k, v in model_fields.items() if k in names}},
        "data": {"dataset": dataset, "image_size": image_size},
        "train": {**TINY_TRAIN, **train},
    }


@pytest.fixture(scope="session", name="tiny_config_dict")
def tiny_config_dict_fixture():
    """Factory: ``tiny_config_dict(dataset="mnist", image_size=8, **train)`` -> a YAML-ready mapping."""
    return tiny_config_dict


@pytest.fixture
def write_tiny_config(tmp_path):
    """Factory: ``write_tiny_config(dataset="mnist", image_size=8, **train)`` -> path of a tiny YAML config."""
    counter = iter(range(1_000))

    def write(**kwargs) -> Path:
        path = tmp_path / f"tiny{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(tiny_config_dict(**kwargs), sort_keys=False))
        return path

    return write


@pytest.fixture
def tiny_run(tmp_path):
    """An untrained tiny ESVAE run directory (config.yaml + checkpoint.pt)."""
    from neurovae.config import load_config
    from neurovae.train.checkpoint import init_run, save_checkpoint
    from neurovae.train.loop import build_model

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict()))
    config = load_config(path)
    paths = init_run(tmp_path / "run", config)
    torch.manual_seed(0)
    save_checkpoint(paths, build_model(config), None, 0)
    return paths.root


@pytest.fixture
def cvae_run(tmp_path, idx, tiny_config_dict):
    """A tiny CVAE trained on a tiny MNIST folder: ``(tmp_path, data folder)``, the run in ``tmp_path / "run"``."""
    from neurovae.cli.main import main

    data = idx.folder(tmp_path / "mnist", n_train=64, n_test=32, gz=True)
    config = tiny_config_dict(dataset="mnist", model="cvae", batch_size=32)
    config["model"].update(hidden_dim=16, latent_dim=4)
    config["train"]["lr_multipliers"] = {}
    path = tmp_path / "cvae.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", str(path), "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    return tmp_path, data


def random_images(count: int, size: int = 8, channels: int = 1, seed: int = 0) -> InMemoryImageDataset:
    """An in-memory dataset of smooth-ish random images in [-1, 1] with labels 0..9."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(count, channels, size, size, generator=generator) * 2 - 1
    return InMemoryImageDataset(images, torch.arange(count) % 10, num_classes=10)


@pytest.fixture(scope="session", name="random_images")
def random_images_fixture():
    """Factory: ``random_images(count, size=8, channels=1, seed=0)`` -> an in-memory dataset."""
    return random_images


@pytest.fixture
def tiny_dataset() -> InMemoryImageDataset:
    """24 random 1x8x8 images: three batches of 8."""
    return random_images(24)
