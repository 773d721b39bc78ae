"""Dataset readers for local files (MNIST, Fashion-MNIST, CIFAR-10, CelebA); nothing is ever downloaded."""

from neurovae.data.celeba import CelebADataset
from neurovae.data.datasets import DATASETS, InMemoryImageDataset, default_root, load_dataset
from neurovae.data.errors import DataError

__all__ = ["DATASETS", "CelebADataset", "DataError", "InMemoryImageDataset", "default_root", "load_dataset"]
