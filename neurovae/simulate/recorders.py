"""ProcessModels for Lava's own ``RingBuffer`` sink and ``Read`` processes that record into ``.npy`` files.

Lava's ``Var.get()`` sends an array to the host one element at a time (``PyProcessModel._get_var``): reading
400 neurons x 384 steps of spikes took 5.5 s, longer than simulating them. These models, selected through
``exception_proc_model_map``, instead write every step into a memory-mapped ``.npy`` file that the host
created (``proc_params['record_path']``) and reads back after the run. The processes are created with a
ring buffer of length 1 so that their (unused) ``data`` Var costs nothing.

Example:
    >>> sink = Sink(shape=(400,), buffer=1)  # doctest: +SKIP
    >>> attach_record(sink, path, (400,), total_steps, np.int8)  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.io.sink import PyReadFixed, PyReadFloat, PyReceiveModelFixed, PyReceiveModelFloat, Read, RingBuffer


def attach_record(proc: RingBuffer | Read, path: str | os.PathLike, shape: tuple[int, ...], length: int,
                  dtype: type) -> None:
    """Create the zeroed ``[*shape, length]`` ``.npy`` file ``path`` and point ``proc``'s model at it."""
    np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(shape) + (length,)).flush()
    proc.proc_params["record_path"] = str(path)


def load_record(path: str | os.PathLike) -> np.ndarray:
    """Read a record written by these models (a copy, so the file can be removed)."""
    return np.array(np.load(path, mmap_mode="r"))


class _FileRecord:
    """Mixin: write a value into column ``index`` of the memory-mapped record."""

    _record: np.ndarray | None = None

    def _write(self, index: int, value: np.ndarray) -> None:
        if self._record is None:
            self._record = np.load(self.proc_params["record_path"], mmap_mode="r+")
        self._record[..., index] = value


class _SinkToFile(_FileRecord):
    def run_spk(self) -> None:
        """Receive this step's input and store it at column ``time_step - 1``."""
        self._write(self.time_step - 1, self.a_in.recv())


class _ReadToFile(_FileRecord):
    _count = 0

    def run_post_mgmt(self) -> None:
        """Read the referenced Var (at the steps ``post_guard`` selects) into the next column."""
        self._write(self._count, self.state.read())
        self._count += 1


@implements(proc=RingBuffer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class FileSinkFloat(_SinkToFile, PyReceiveModelFloat):
    """Float sink that records into a ``.npy`` file."""


@implements(proc=RingBuffer, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class FileSinkFixed(_SinkToFile, PyReceiveModelFixed):
    """Fixed-point sink that records into a ``.npy`` file."""


@implements(proc=Read, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class FileReadFloat(_ReadToFile, PyReadFloat):
    """Float Var reader that records into a ``.npy`` file."""


@implements(proc=Read, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class FileReadFixed(_ReadToFile, PyReadFixed):
    """Fixed-point Var reader that records into a ``.npy`` file."""
