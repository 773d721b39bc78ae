"""Safe file output: atomic writes, their leftovers after a kill, folders that files stand in, folder locks."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neurovae.errors import OutputError

LOCK = ".lock"
"""The lock file a writer holds in a folder (:func:`lock_folder`)."""

_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp")  # .NAME.PID.RANDOM.tmp, as atomic_path names them


def check_folder(folder: str | os.PathLike) -> None:
    """Refuse, in one line, a ``folder`` that cannot be made because a file stands where it or a folder above must be.

    Without this check ``mkdir`` fails with a ``FileExistsError`` / ``NotADirectoryError`` traceback.
    """
    folder = Path(folder)
    for part in (folder, *folder.parents):
        if part.exists() and not part.is_dir():
            raise OutputError(f"cannot write into {folder}: {part} is a file, not a folder; choose another path")


def make_folder(folder: str | os.PathLike) -> Path:
    """``mkdir -p folder`` with :func:`check_folder`'s one-line error."""
    folder = Path(folder)
    check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, name: str | None = None) -> None:
    """Delete the temporary files of :func:`atomic_path` whose writer was killed mid-write (kill -9, power loss).

    Their names hold the writer's PID; a file whose writer no longer runs is garbage that nothing else removes.
    ``name``: only the temporary files of that target file; None: those of every file in ``folder``.
    """
    pattern = f".{glob.escape(name) if name is not None else '*'}.*.tmp"
    for path in Path(folder).glob(pattern):
        match = _TEMP.fullmatch(path.name)
        if match and name in (None, match["name"]) and not _running(int(match["pid"])):
            path.unlink(missing_ok=True)


def strict_json(value: Any) -> str:
    """Indented JSON text of ``value`` with NaN and infinities written as ``null``.

    Python's ``json`` writes ``NaN``, which is not JSON: strict parsers (``jq``, browsers, most languages) reject it.
    """
    def finite(item: Any) -> Any:
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: finite(inner) for key, inner in item.items()}
        return [finite(inner) for inner in item] if isinstance(item, list | tuple) else item

    return json.dumps(finite(value), indent=2, allow_nan=False)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file lives in the same directory so that the final ``os.replace`` is atomic.
    Parent directories are created. On any exception the temporary file is removed and the
    exception propagates; an existing file at ``path`` is left untouched. Temporary files that
    killed writers left for the same ``path`` are removed first (:func:`remove_stale_temps`).

    Example:
        >>> with atomic_path("model.net") as tmp:  # doctest: +SKIP
        ...     write_everything(tmp)
    """
    target = Path(path)
    make_folder(target.parent)
    remove_stale_temps(target.parent, target.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open ``fd`` still is the file at ``path`` (a lock file may be removed between open and flock)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike, hint: str) -> Iterator[None]:
    """Hold ``folder/.lock`` while this process writes ``folder``; a second writer is refused in one line.

    The lock is an ``flock``, which the kernel releases when the process ends, even on kill -9: a lock file left
    behind then blocks no one. The holder's PID is written into it for the refusal to name; once held, the
    temporary files of killed writers are removed (:func:`remove_stale_temps`). ``folder`` is created.
    ``hint`` says what to do instead (e.g. ``"train into another --out"``).
    """
    path = make_folder(folder) / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise OutputError(f"{folder} is being written by {f'process {holder}' if holder else 'another process'}"
                              f"; {hint}") from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the previous holder removed the file after we opened it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        remove_stale_temps(folder)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
