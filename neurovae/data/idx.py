"""Reader for the IDX files of MNIST and Fashion-MNIST, plain or gzip, checked against their own headers.

The IDX header is a big-endian magic number (``0x0000 08 <ndim>`` for unsigned bytes) followed by ``ndim``
big-endian uint32 sizes; checking all of it turns a wrong, truncated or swapped file into a clear error
instead of a silently garbled dataset.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from neurovae.data.errors import DataError

IMAGES_MAGIC = 0x00000803
"""uint8 data with 3 dimensions: (count, rows, columns)."""
LABELS_MAGIC = 0x00000801
"""uint8 data with 1 dimension: (count,)."""
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
"""File-name prefix of each split, as in ``t10k-images-idx3-ubyte``."""


def idx_file_names(split: str) -> tuple[str, str]:
    """Return the standard (images, labels) file names of a split, without the optional ``.gz``."""
    prefix = SPLIT_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def find_idx_file(folder: Path, name: str) -> Path:
    """Locate ``name`` in ``folder``, plain or gzip-compressed (the plain file wins when both exist).

    Args:
        folder: Folder holding the IDX files.
        name: Standard file name without ``.gz``.

    Returns:
        Path of the file found.

    Raises:
        DataError: If neither ``name`` nor ``name.gz`` is in ``folder``.
    """
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    images, labels = idx_file_names("train")
    test_images, test_labels = idx_file_names("test")
    raise DataError(
        f"{name} (or {name}.gz) not found in {folder}; the folder must hold the MNIST-format files "
        f"{images}, {labels}, {test_images}, {test_labels}, each plain or .gz"
    )


def _read_bytes(path: Path) -> bytes:
    """Read a file, transparently gunzipping ``*.gz``, with read and gzip failures turned into DataError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt gzip file {path} ({exc}); download it again or use a good copy") from None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse an IDX file whose header must carry ``magic``.

    Args:
        path: IDX file, plain or ``.gz``.
        magic: Expected magic number; its low byte is the number of dimensions.

    Returns:
        A writable uint8 array with the shape the header declares.

    Raises:
        DataError: On a wrong magic number or when the file size differs from what the header promises.
    """
    data = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) >= 4 and (found := int.from_bytes(data[:4], "big")) != magic:
        raise DataError(
            f"{path} has IDX magic 0x{found:08X} but 0x{magic:08X} was expected "
            f"(uint8 data with {ndim} dimension{'s' if ndim > 1 else ''}); is it the right file?"
        )
    if len(data) < header:
        raise DataError(f"{path} is truncated: expected at least {header} header bytes, found {len(data)}")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(f"{path} is {state}: expected {expected} bytes for shape {shape}, found {len(data)}")
    return np.frombuffer(bytearray(data), dtype=np.uint8, offset=header).reshape(shape)


def load_idx_split(folder: Path, split: str, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Load the images and labels of one split of an MNIST-format folder.

    Args:
        folder: Folder with the four standard IDX files.
        split: ``"train"`` or ``"test"``.
        num_classes: Labels must lie in ``range(num_classes)``.

    Returns:
        ``(images, labels)``: uint8 ``(N, rows, columns)`` and int64 ``(N,)``.

    Raises:
        DataError: If a file is missing or malformed, the counts differ, or a label is out of range.
    """
    image_name, label_name = idx_file_names(split)
    image_path, label_path = find_idx_file(folder, image_name), find_idx_file(folder, label_name)
    images = read_idx(image_path, IMAGES_MAGIC)
    labels = read_idx(label_path, LABELS_MAGIC).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels; "
            "the two files must come from the same dataset and split"
        )
    if len(labels) and labels.max() >= num_classes:
        raise DataError(f"{label_path} has labels outside 0..{num_classes - 1}; is it an MNIST-format file?")
    return images, labels
