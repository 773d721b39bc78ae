"""The command line on netx files: a lava-dl SLAYER export through `neurovae inspect` and `neurovae run`,
and one-line errors (exit 2, no traceback, no output file) for every kind of bad input."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

pytest.importorskip("lava.lib.dl.netx", reason="lava-dl is not installed")
torch = pytest.importorskip("torch")

import lava.lib.dl.slayer as slayer  # noqa: E402
from slayer_files import export_slayer  # noqa: E402

from neurovae.cli.main import main  # noqa: E402
from neurovae.netx import CubaNeuron, DenseLayer, InputLayer, NetworkRecord, write_netx  # noqa: E402
from neurovae.simulate import run_netx_stock  # noqa: E402

PARAMS = {"threshold": 1.0, "current_decay": 1.0, "voltage_decay": 0.1, "requires_grad": False}


@pytest.fixture
def slayer_file(tmp_path):
    """A dense CUBA network exported by lava-dl's own SLAYER blocks."""
    torch.manual_seed(5)
    blocks = [slayer.block.cuba.Dense(PARAMS, 16, 10, weight_scale=3, weight_norm=False),
              slayer.block.cuba.Dense(PARAMS, 10, 4, weight_scale=3, weight_norm=False)]
    return export_slayer(tmp_path / "slayer.net", blocks, (16,))


def test_slayer_file_through_inspect_and_run_equals_stock_netx(slayer_file, tmp_path, capsys):
    assert main(["inspect", str(slayer_file)]) == 0
    assert "dense" in capsys.readouterr().out
    inputs = (np.random.default_rng(1).uniform(size=(3, 16, 10)) < 0.4).astype(float)
    np.save(tmp_path / "in.npy", inputs)
    out = tmp_path / "out.npz"
    code = main(["run", str(slayer_file), "--input", str(tmp_path / "in.npy"), "--precision", "fixed",
                 "--backend", "lava", "-n", "3", "-o", str(out), "--no-progress"])
    assert code == 0
    ours = np.load(out)
    stock = run_netx_stock(slayer_file, inputs, progress=False)
    for index, spikes in stock.spikes.items():
        assert np.array_equal(ours[f"layer{index}_spikes"], spikes), f"layer {index}"
    assert sum(int(s.sum()) for s in stock.spikes.values()) > 0


def _tiny(path, weight=None):
    weight = np.ones((3, 4)) if weight is None else weight
    write_netx(NetworkRecord((InputLayer((4,)), DenseLayer(weight, CubaNeuron(vThMant=2.0)))), path)
    return path


def _write_bad(tmp_path, kind):
    path = tmp_path / f"{kind}.net"
    if kind == "missing":
        return tmp_path / "nope.net"
    if kind == "not_hdf5":
        path.write_text("hello")
    elif kind == "not_netx":
        with h5py.File(path, "w") as handle:
            handle.create_dataset("x", data=[1])
    elif kind == "unsupported_layer":
        _tiny(path)
        with h5py.File(path, "a") as handle:
            del handle["layer/1/type"]
            handle["layer/1"].create_dataset("type", (1,), "S10", [b"pool"])
    elif kind == "shape_mismatch":
        _tiny(path)
        with h5py.File(path, "a") as handle:
            del handle["layer/0/shape"]
            handle["layer/0"].create_dataset("shape", data=np.array([5]))
    elif kind == "nan_weights":
        _tiny(path)
        with h5py.File(path, "a") as handle:
            handle["layer/1/weight"][0, 0] = np.nan
    return path


@pytest.mark.parametrize("kind, fragment", [
    ("missing", "no such file"), ("not_hdf5", "not an HDF5 file"), ("not_netx", "not a netx network"),
    ("unsupported_layer", "'pool'"), ("shape_mismatch", "mismatch"), ("nan_weights", "NaN"),
])
def test_bad_netx_files_are_one_line_errors(kind, fragment, tmp_path, capsys):
    path = _write_bad(tmp_path, kind)
    for argv in (["inspect", str(path)],
                 ["run", str(path), "--input", "prior", "-o", str(tmp_path / "o.npz"), "--no-progress"],
                 ["energy", str(path), "--input", "prior", "-o", str(tmp_path / "e.json"), "--no-progress"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("neurovae: error:") and "\n" not in err and fragment in err, err
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("extra, fragment", [
    (["--steps", "0"], "steps"), (["-n", "0"], "positive"),
])
def test_bad_run_requests_are_one_line_errors(extra, fragment, tmp_path, capsys):
    path = _tiny(tmp_path / "ok.net")
    np.save(tmp_path / "in.npy", np.zeros((2, 4, 5)))
    argv = ["run", str(path), "--input", str(tmp_path / "in.npy"), "-o", str(tmp_path / "o.npz"), "--no-progress"]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurovae: error:") and "\n" not in err and fragment in err, err
    assert not (tmp_path / "o.npz").exists()


def test_input_shape_that_does_not_match_the_network(tmp_path, capsys):
    path = _tiny(tmp_path / "ok.net")
    np.save(tmp_path / "in.npy", np.zeros((2, 7, 5)))
    assert main(["run", str(path), "--input", str(tmp_path / "in.npy"), "-o", str(tmp_path / "o.npz"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "shape" in err and "\n" not in err, err
