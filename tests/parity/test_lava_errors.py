"""Simulation requests that cannot work fail with one-line NeurovaeErrors, before Lava is even imported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from neurovae.errors import NeurovaeError
from neurovae.netx import ConvTLayer, CubaNeuron, DenseLayer, InputLayer, NetworkRecord, write_netx
from neurovae.simulate import run_lava, run_netx_stock

NEURON = CubaNeuron(vThMant=1.0)


def _net(**kwargs) -> NetworkRecord:
    return NetworkRecord(layers=(InputLayer((4,)), DenseLayer(np.full((3, 4), 0.5), NEURON)), **kwargs)


def _message(call) -> str:
    with pytest.raises(NeurovaeError) as error:
        call()
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: run_lava(_net(), np.zeros((2, 4, 0))), "0 time steps"),
        (lambda: run_lava(_net(), np.zeros((2, 4)), steps=0), "steps=0 must be a positive"),
        (lambda: run_lava(_net(), np.zeros((2, 4)), steps=-3), "steps=-3 must be a positive"),
        (lambda: run_lava(_net(), np.zeros((2, 5, 8))), "this network needs [N, 4, T]"),
        (lambda: run_lava(_net(), np.zeros((0, 4, 8))), "no samples"),
        (lambda: run_lava(_net(), np.full((1, 4, 8), 0.5)), "must be 0/1 spikes"),
        (lambda: run_lava(_net(), np.zeros((1, 4, 8)), precision="double"), "precision='double'"),
        (lambda: run_lava(_net(), np.zeros((1, 4, 8)), precision="fixed"), "non-integer weight"),
        (lambda: run_lava(_net(input_encoding="direct"), np.full((1, 4, 8), np.nan)), "NaN"),
    ],
)
def test_run_lava_rejects_bad_requests(call, expected):
    assert expected in _message(call)


def test_stock_netx_rejects_what_it_cannot_load(tmp_path):
    convt = NetworkRecord(layers=(
        InputLayer((1, 2, 2)), ConvTLayer(np.ones((1, 1, 2, 2)), NEURON, (1, 3, 3)),
    ))
    path = write_netx(convt, tmp_path / "convt.net")
    assert "cannot run layer 1 (convT)" in _message(lambda: run_netx_stock(path, np.zeros((1, 1, 2, 2, 4))))
    direct = write_netx(_net(input_encoding="direct"), tmp_path / "direct.net")
    assert "direct" in _message(lambda: run_netx_stock(direct, np.zeros((1, 4, 4))))


def test_importing_netx_and_simulate_does_not_import_lava():
    code = "import sys, neurovae.netx, neurovae.simulate; print('lava' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
