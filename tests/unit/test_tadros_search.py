"""The Tadros sleep search: seeded trials repeat exactly, every trial is recorded and written."""

from __future__ import annotations

import json

import pytest
import torch

from neurovae.errors import ConfigError
from neurovae.sleep.search_output import write_search
from neurovae.sleep.stdp_network.network import DiehlCookNetwork
from neurovae.sleep.stdp_network.params import InputParams, NetworkParams
from neurovae.sleep.stdp_network.search import TadrosSearchSpace, TadrosValidation, run_tadros_search

PARAMS = NetworkParams(n_input=16, n_neurons=6, input=InputParams(duration=40.0))
SPACE = TadrosSearchSpace(duration=(50.0, 150.0))  # short sleeps: a tiny search runs in seconds


def _search(seed: int, trials: int = 3) -> dict:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(40, 16, generator=generator)
    targets = torch.arange(40) % 10
    network = DiehlCookNetwork.create(PARAMS, 2, [torch.Generator().manual_seed(s) for s in (0, 1)])
    for index in range(4):
        network.learn_image(images[[index, index + 4]], generator)
    validation = TadrosValidation(images[20:30], targets[20:30], images[30:], targets[30:])
    before = network.weights.clone()
    result = run_tadros_search(network, images[:8].mean(dim=0), validation, trials, seed=seed, space=SPACE)
    assert torch.equal(network.weights, before)  # the awake network is not changed
    return result


def test_a_seeded_search_repeats_its_trials_and_writes_them(tmp_path) -> None:
    first, again = _search(seed=3), _search(seed=3)
    assert [t["params"] for t in first["trials"]] == [t["params"] for t in again["trials"]]
    assert [t["objective"] for t in first["trials"]] == [t["objective"] for t in again["trials"]]
    assert len(first["trials"]) == 3 and first["best"]["objective"] == max(t["objective"] for t in first["trials"])
    for trial in first["trials"]:  # the objective is the mean gain over conditions and copies, in points
        gains = [after - before for name, awake in first["awake"].items()
                 for after, before in zip(trial["figures"][name], awake, strict=True)]
        assert trial["objective"] == pytest.approx(100 * sum(gains) / len(gains))
        assert SPACE.duration[0] <= trial["params"]["duration"] <= SPACE.duration[1]
    paths = write_search(first, tmp_path)
    assert json.loads(paths[0].read_text())["trials"][0]["params"] == first["trials"][0]["params"]
    assert "theta_tau" in paths[1].read_text().splitlines()[0]
    assert paths[2].read_bytes().startswith(b"\x89PNG")


def test_another_seed_tries_other_settings() -> None:
    assert _search(seed=3, trials=1)["trials"][0]["params"] != _search(seed=4, trials=1)["trials"][0]["params"]


def test_search_ranges_and_trials_are_checked() -> None:
    with pytest.raises(ConfigError, match="theta_tau"):
        TadrosSearchSpace(theta_tau=(0.0, 10.0))
    with pytest.raises(ConfigError, match="at least one trial"):
        _search(seed=0, trials=0)
