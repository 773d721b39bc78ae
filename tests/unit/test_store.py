"""Streaming a run to disk: the ``.npz`` equals one written at once, and memory holds a batch, not the run."""

from __future__ import annotations

import numpy as np
import pytest

from neurovae.netx import CubaNeuron, DenseLayer, InputLayer, NetworkRecord, write_netx
from neurovae.simulate import pipeline
from neurovae.simulate.store import NpzStream


def test_batches_stream_into_the_same_npz_as_one_array(tmp_path):
    rng = np.random.default_rng(0)
    whole = {"spikes": rng.random((7, 3, 4)) < 0.5, "volts": rng.normal(size=(7, 2)), "ids": np.arange(7)}
    with NpzStream(tmp_path / "run.npz") as store:
        for start in range(0, 7, 3):
            store.add({name: array[start:start + 3] for name, array in whole.items()})
    loaded = np.load(tmp_path / "run.npz")
    assert sorted(loaded.files) == sorted(whole)
    for name, array in whole.items():
        assert loaded[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded[name], array)
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no parts folder left


def test_an_interrupted_stream_leaves_no_output_and_keeps_an_old_file(tmp_path):
    (tmp_path / "run.npz").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), NpzStream(tmp_path / "run.npz") as store:
        store.add({"a": np.zeros((2, 3))})
        raise KeyboardInterrupt
    assert (tmp_path / "run.npz").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]


def test_a_batch_must_continue_its_array(tmp_path):
    with pytest.raises(ValueError, match="does not continue"), NpzStream(tmp_path / "run.npz") as store:
        store.add({"a": np.zeros((2, 3))})
        store.add({"a": np.zeros((2, 4))})


def test_a_run_streamed_in_small_batches_equals_one_batch(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    network = NetworkRecord(layers=(InputLayer((6,)), DenseLayer(rng.integers(-60, 90, (5, 6)),
                                                                 CubaNeuron(vDecay=512, vThMant=64))),
                            precision="fixed")
    path = write_netx(network, tmp_path / "net.net")
    np.save(tmp_path / "in.npy", rng.random((9, 6, 7)) < 0.4)
    outputs = {}
    for batch in (9, 2):
        monkeypatch.setattr(pipeline, "STREAM_BATCH", batch)
        out = tmp_path / f"batch{batch}.npz"
        pipeline.simulate_files([path], str(tmp_path / "in.npy"), backend="emulator", precision="fixed", count=9,
                                out=out, record_voltage=True, progress=False)
        outputs[batch] = np.load(out)
    assert sorted(outputs[2].files) == ["inputs", "layer1_spikes", "layer1_voltage", "readout_voltage"]
    for name in outputs[9].files:
        np.testing.assert_array_equal(outputs[2][name], outputs[9][name], err_msg=name)
    assert outputs[2]["layer1_spikes"].any()
