"""One entry point, :func:`load_dataset`, turning a dataset name and folder into a ready torch Dataset.

Every dataset yields ``(image, label)`` with ``image`` float32 CHW in [-1, 1], preprocessed as in the ESVAE
paper: MNIST / Fashion-MNIST resized to 32 x 32, CIFAR-10 kept at 32 x 32, CelebA cropped and resized to
64 x 64. Nothing is ever downloaded: a missing folder or file is a :class:`DataError` saying what to pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from neurovae.data.celeba import SPLIT_CODES, CelebADataset
from neurovae.data.cifar import load_cifar_split
from neurovae.data.errors import DataError
from neurovae.data.idx import idx_file_names, load_idx_split

DATASETS = ("mnist", "fashion_mnist", "cifar10", "celeba")
DEFAULT_IMAGE_SIZE = {"mnist": 32, "fashion_mnist": 32, "cifar10": 32, "celeba": 64}
"""Image side each dataset is trained at in the ESVAE paper."""
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package installs the four ``*-ubyte.gz`` files."""
_RESIZE_CHUNK = 1024
"""Images resized per step, bounding the temporary float copy of the raw uint8 array."""


class InMemoryImageDataset(Dataset):
    """Images already preprocessed into one tensor, so that items (and whole batches) cost a slice.

    Attributes:
        images: float32 ``(N, C, H, W)`` in [-1, 1]; index it directly for fast batching.
        labels: int64 ``(N,)``.
        num_classes: Number of label values.
        channels: ``C``.
        image_size: ``H`` (= ``W``).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
        self.images, self.labels, self.num_classes = images, labels, num_classes
        self.channels, self.image_size = images.shape[1], images.shape[-1]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


def to_signed_images(raw: np.ndarray, image_size: int) -> torch.Tensor:
    """Convert uint8 ``(N, C, H, W)`` images to float32 in [-1, 1] at ``image_size`` x ``image_size``.

    Resizing is bilinear with antialiasing and half-pixel centres, the filter Pillow (and so torchvision's
    ``Resize`` on PIL images) applies; it commutes with the affine map to [-1, 1]. The work runs in chunks,
    which bounds the temporary memory and keeps each chunk in cache.
    """
    out = torch.empty((len(raw), raw.shape[1], image_size, image_size), dtype=torch.float32)
    for start in range(0, len(raw), _RESIZE_CHUNK):
        chunk = np.multiply(raw[start : start + _RESIZE_CHUNK], np.float32(2 / 255), dtype=np.float32)
        images = torch.from_numpy(chunk).sub_(1)
        if images.shape[-2:] != (image_size, image_size):
            images = F.interpolate(
                images, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False
            )
        torch.clamp(images, -1, 1, out=out[start : start + len(images)])
    return out


def default_root(name: str) -> Path | None:
    """Return the folder a dataset is found in when none is given, or None if it has no default.

    Only Fashion-MNIST has one, because Debian packages it (``apt-get install dataset-fashion-mnist``).

    Raises:
        DataError: If ``name`` is not one of :data:`DATASETS`.
    """
    _check_name(name)
    return FASHION_MNIST_ROOT if name == "fashion_mnist" else None


def load_dataset(
    name: str,
    root: str | os.PathLike | None,
    split: str,
    image_size: int | None = None,
    limit: int | None = None,
) -> Dataset:
    """Load one split of a dataset from local files, preprocessed for the spiking VAEs.

    Args:
        name: One of :data:`DATASETS`.
        root: Folder with the dataset files; None uses :func:`default_root`.
        split: ``"train"`` or ``"test"`` (CelebA also ``"valid"``).
        image_size: Side of the square output images; None uses the paper's size for the dataset.
        limit: Keep only the first ``limit`` items (quick demos and tests); None keeps all.

    Returns:
        A Dataset of ``(image, label)`` pairs with ``.num_classes``, ``.channels``, ``.image_size`` and
        ``.images`` (a tensor for the in-memory datasets, None for the lazily decoded CelebA).

    Raises:
        DataError: On an unknown name or split, a bad size or limit, or a missing or malformed file.
    """
    folder = _check_args(name, root, split, image_size, limit)
    size = image_size or DEFAULT_IMAGE_SIZE[name]
    if name == "celeba":
        return CelebADataset(folder, split, size, limit)
    if name == "cifar10":
        images, labels = load_cifar_split(folder, split, limit)
    else:
        images, labels = load_idx_split(folder, split)
        images, labels = images[:limit, None], labels[:limit]
    return InMemoryImageDataset(to_signed_images(images, size), torch.from_numpy(labels), num_classes=10)


def _check_name(name: str) -> None:
    """Fail unless ``name`` is a supported dataset."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def _check_args(
    name: str, root: str | os.PathLike | None, split: str, image_size: int | None, limit: int | None
) -> Path:
    """Validate the arguments of :func:`load_dataset` and return the dataset folder, which must exist."""
    _check_name(name)
    splits = tuple(SPLIT_CODES) if name == "celeba" else ("train", "test")
    if split not in splits:
        raise DataError(f"unknown split {split!r} for {name}; choose one of {', '.join(splits)}")
    for arg, value in (("image_size", image_size), ("limit", limit)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise DataError(f"{arg} must be a positive integer, got {value!r}")
    if root is None and (root := default_root(name)) is None:
        files = f" with {idx_file_names('train')[0]}[.gz] and the other MNIST-format files"
        raise DataError(f"{name} has no default folder; pass --data DIR{files if name == 'mnist' else ''}")
    folder = Path(root).expanduser()
    if not folder.is_dir():
        hint = " (or run: apt-get install dataset-fashion-mnist)" if name == "fashion_mnist" else ""
        raise DataError(f"{name} folder {folder} not found; pass --data DIR with the {name} files{hint}")
    return folder
