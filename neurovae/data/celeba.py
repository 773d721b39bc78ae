"""Lazy CelebA reader: aligned JPEGs decoded one at a time, since the 200k images do not fit in memory.

Preprocessing follows the ESVAE / FSVAE reference code (torchvision ``CenterCrop(148)`` then ``Resize(64)``
on the PIL image), which keeps the face and drops most of the background.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from neurovae.data.errors import DataError

IMAGE_FOLDER = "img_align_celeba"
PARTITION_FILE = "list_eval_partition.txt"
SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}
"""Split name to the code used in the partition file."""
CROP = 148
"""Side of the centre crop taken from the 178 x 218 aligned images before resizing."""


def celeba_folder(root: Path) -> Path:
    """Return the folder holding the partition file: ``root`` itself or torchvision's ``root/celeba``."""
    nested = root / "celeba"
    return nested if (nested / PARTITION_FILE).is_file() else root


def read_partition(path: Path, split: str) -> list[str]:
    """List the image files of ``split`` from ``list_eval_partition.txt``, in file order.

    Args:
        path: The partition file (lines like ``000001.jpg 0``).
        split: ``"train"``, ``"valid"`` or ``"test"``.

    Returns:
        Image file names of the split.

    Raises:
        DataError: If the file is missing or a line is malformed.
    """
    if not path.is_file():
        raise DataError(f"CelebA partition file {path} not found; the folder needs it and {IMAGE_FOLDER}/")
    code, names = str(SPLIT_CODES[split]), []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(f"{path} line {number} is not '<image>.jpg <0|1|2>': {line[:60]!r}")
        if fields[1] == code:
            names.append(fields[0])
    return names


def preprocess(image: Image.Image, size: int) -> torch.Tensor:
    """Centre-crop to 148 x 148 and resize bilinearly to ``size``, returning float32 CHW in [-1, 1].

    Crop offsets round like torchvision's ``CenterCrop``, and Pillow's bilinear resize is what torchvision's
    ``Resize`` runs on a PIL image, so the pixels match the reference pipeline.
    """
    width, height = image.size
    left, top = round((width - CROP) / 2), round((height - CROP) / 2)
    image = image.crop((left, top, left + CROP, top + CROP)).resize((size, size), Image.BILINEAR)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32).transpose(2, 0, 1).copy())
    return pixels.mul_(2 / 255).sub_(1)


class CelebADataset(Dataset):
    """One CelebA split, decoded lazily per item so that memory stays flat.

    Attributes:
        files: Image file names of the split (after ``limit``).
        images: Always None: the images are not held in memory.
        num_classes: 1, since every item has label 0 (CelebA is used unconditionally here).
        channels: 3.
        image_size: Side of the square output images.
    """

    images = None
    num_classes = 1
    channels = 3

    def __init__(self, root: Path, split: str, image_size: int = 64, limit: int | None = None) -> None:
        """Read the partition file and check that the split's first image is there.

        Args:
            root: Folder with ``img_align_celeba/`` and ``list_eval_partition.txt`` (or its parent's
                ``celeba/``).
            split: ``"train"``, ``"valid"`` or ``"test"``.
            image_size: Side of the output images.
            limit: Keep only the first ``limit`` images of the split.

        Raises:
            DataError: If the partition file is missing or malformed, the split is empty, or its first image
                is missing (the others are checked when read).
        """
        folder = celeba_folder(root)
        self.image_dir = folder / IMAGE_FOLDER
        self.files = read_partition(folder / PARTITION_FILE, split)[:limit]
        self.image_size = image_size
        if not self.files:
            raise DataError(f"CelebA split {split!r} is empty in {folder / PARTITION_FILE}")
        self._path(0)

    def __len__(self) -> int:
        return len(self.files)

    def _path(self, index: int) -> Path:
        """Return the path of item ``index``, failing clearly if the partition file lists a missing image."""
        path = self.image_dir / self.files[index]
        if not path.is_file():
            raise DataError(f"CelebA image {path} (listed in {PARTITION_FILE}) is missing")
        return path

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self._path(index)
        try:
            with Image.open(path) as image:
                return preprocess(image.convert("RGB"), self.image_size), 0
        except OSError as exc:
            raise DataError(f"cannot decode CelebA image {path}: {exc}") from None
