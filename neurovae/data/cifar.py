"""Reader for the CIFAR-10 "python version" batches (``data_batch_1..5``, ``test_batch``).

The batches are pickles, the format the dataset is distributed in; unpickling can run code, so only point
this reader at files from a trusted source.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from neurovae.data.errors import DataError

SUBFOLDER = "cifar-10-batches-py"
"""Folder name inside the official archive; a root holding it is accepted too."""
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
"""Batch files of each split, in the order their images are concatenated."""


def cifar_folder(root: Path) -> Path:
    """Return the folder holding the batches: ``root`` itself or its ``cifar-10-batches-py/``."""
    nested = root / SUBFOLDER
    return nested if nested.is_dir() else root


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load one batch file and check it really is a CIFAR-10 batch.

    Args:
        path: Pickle with ``b"data"`` (uint8, N x 3072) and ``b"labels"`` (N ints).

    Returns:
        ``(images, labels)``: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``.

    Raises:
        DataError: If the file cannot be unpickled or does not hold a CIFAR-10 batch.
    """
    try:
        with path.open("rb") as file:
            batch = pickle.load(file, encoding="bytes")
    except Exception as exc:  # unpickling garbage raises almost any exception type
        raise DataError(f"{path} is not a CIFAR-10 python batch (unpickling failed: {exc!r})") from None
    not_batch = f"{path} is not a CIFAR-10 python batch:"
    data = batch.get(b"data") if isinstance(batch, dict) else None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape[1:] == (3072,)):
        raise DataError(f"{not_batch} expected a dict with b'data' uint8 (N, 3072)")
    try:
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
        valid = labels.shape == (len(data),) and (not labels.size or 0 <= labels.min() <= labels.max() < 10)
    except (KeyError, TypeError, ValueError):
        valid = False
    if not valid:
        raise DataError(f"{not_batch} expected b'labels' with {len(data)} values in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar_split(root: Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load one split, reading only as many batch files as ``limit`` needs.

    Args:
        root: Folder with the batch files, or the folder containing ``cifar-10-batches-py/``.
        split: ``"train"`` or ``"test"``.
        limit: Keep only the first ``limit`` images (None keeps all).

    Returns:
        ``(images, labels)``: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``.

    Raises:
        DataError: If a batch file of the split is missing or malformed.
    """
    folder = cifar_folder(root)
    missing = [name for name in BATCHES[split] if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"CIFAR-10 batch file(s) {', '.join(missing)} not found in {folder}; expected "
            f"data_batch_1..5 and test_batch (the python version), or a folder containing {SUBFOLDER}/"
        )
    images, labels = [], []
    for name in BATCHES[split]:
        batch_images, batch_labels = read_batch(folder / name)
        images.append(batch_images)
        labels.append(batch_labels)
        if limit is not None and sum(map(len, labels)) >= limit:
            break
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit]
