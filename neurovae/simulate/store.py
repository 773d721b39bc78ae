"""Stream a run's arrays to an ``.npz`` batch by batch, so that memory holds one batch, not the whole run.

Each array grows along its first axis (samples). Batches are appended to one raw ``.npy`` file per array in a
temporary folder beside the output; :meth:`NpzStream.close` then packs them, one after the other, into a
compressed ``.npz`` (what ``np.savez_compressed`` writes, readable by ``np.load``) and moves it onto the output
in one rename. An interrupted run leaves no output and no temporary folder behind.

Example:
    >>> with NpzStream("run.npz") as store:                    # doctest: +SKIP
    ...     for batch in batches:
    ...         store.add({"layer1_spikes": spikes_of(batch)})
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from neurovae.io import atomic_path

PACK_LEVEL = 1
"""zlib level of the packed ``.npz``. Spikes are bytes of 0 and 1: at 10 % density level 1 packs them to 15 % of
their size and the default level 6 to 10 %, but level 1 is six times faster (measured), and a run of 10,000
samples of a paper-size decoder packs 11 GB."""


class NpzStream:
    """An ``.npz`` written batch by batch (a context manager: closing it writes the file).

    Args:
        out: the ``.npz`` to write (replaced atomically when the stream closes without an error).
    """

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._folder = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".parts", dir=self.out.parent))
        self._files: dict[str, BinaryIO] = {}
        self._meta: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
        self._rows: dict[str, int] = {}

    def add(self, arrays: dict[str, np.ndarray]) -> None:
        """Append a batch of each array (every later batch of a name must match its dtype and trailing shape)."""
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            if name not in self._files:
                self._files[name] = open(self._folder / f"{name}.raw", "wb")  # noqa: SIM115 - closed in close()
                self._meta[name], self._rows[name] = (array.dtype, tuple(array.shape[1:])), 0
            elif self._meta[name] != (array.dtype, tuple(array.shape[1:])):
                raise ValueError(f"{name}: a batch of {array.dtype} {array.shape} does not continue "
                                 f"{self._meta[name][0]} [N, {self._meta[name][1]}]")
            array.tofile(self._files[name])
            self._rows[name] += int(array.shape[0])

    def close(self) -> Path:
        """Pack the arrays into the ``.npz`` and remove the temporary folder."""
        try:
            for handle in self._files.values():
                handle.close()
            archive = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": PACK_LEVEL, "allowZip64": True}
            with atomic_path(self.out) as tmp, zipfile.ZipFile(tmp, "w", **archive) as zf:
                for name, (dtype, shape) in self._meta.items():
                    with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                        _write_npy(member, self._folder / f"{name}.raw", dtype, (self._rows[name], *shape))
        finally:
            self.discard()
        return self.out

    def discard(self) -> None:
        """Drop everything written so far (no output is written)."""
        for handle in self._files.values():
            handle.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> NpzStream:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


def _write_npy(member: BinaryIO, raw: Path, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """An ``.npy`` header for ``shape`` and ``dtype``, then the raw C-order bytes, copied in chunks."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_2_0(member, header)
    with open(raw, "rb") as source:
        shutil.copyfileobj(source, member, 16 << 20)
