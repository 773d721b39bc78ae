"""Target profiles (``neurovae/profiles/targets/*.yaml``) and how many neuromorphic cores a netx network needs.

A layer is placed on cores of its own (as lava-dl's compilers do per layer): it needs enough cores for
its neurons and for its synapses, ``max(ceil(neurons / neurons_per_core), ceil(synapses / synapses_per_core))``.
Synapses are counted as connections that exist, so convolution borders are exact (a convolution's shared
weights are stored once per connection on a core).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from neurovae import resources
from neurovae.energy.connectivity import fan_in
from neurovae.errors import NeurovaeError
from neurovae.netx import NetworkRecord

TARGETS_DIR = resources.folder("targets")


class TargetError(NeurovaeError):
    """A target profile is missing or malformed."""


@dataclass(frozen=True)
class TargetProfile:
    """The chip limits of a target (see the YAML files for the sources of each number)."""

    name: str
    precision: str
    cores: int
    neurons_per_core: int
    synapses_per_core: int


def load_target(name_or_path: str | os.PathLike) -> TargetProfile:
    """A profile by name (``loihi2_sim_fixed``) or YAML path; one-line TargetError otherwise."""
    path = Path(name_or_path)
    if not path.suffix:
        path = TARGETS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TARGETS_DIR.glob("*.yaml")))
        raise TargetError(f"target profile {name_or_path} not found; known targets: {known}")
    try:
        raw = yaml.safe_load(path.read_text())
        chip = raw["chip"]
        profile = TargetProfile(name=str(raw["name"]), precision=str(raw["precision"]), cores=int(chip["cores"]),
                                neurons_per_core=int(chip["neurons_per_core"]),
                                synapses_per_core=int(chip["synapses_per_core"]))
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise TargetError(f"target profile {path} is malformed ({type(error).__name__}: {error}); "
                          "it needs name, precision and chip.cores/neurons_per_core/synapses_per_core") from None
    if min(profile.cores, profile.neurons_per_core, profile.synapses_per_core) <= 0:
        raise TargetError(f"target profile {path}: chip limits must be positive")
    return profile


@dataclass(frozen=True)
class LayerPlacement:
    """Resources of one spiking layer on a target."""

    index: int
    type: str
    neurons: int
    synapses: int
    cores: int


def place(network: NetworkRecord, target: TargetProfile) -> list[LayerPlacement]:
    """Per-layer neurons, synapses and cores of ``network`` on ``target``."""
    placements = []
    for index in network.spiking_layers:
        layer = network.layers[index]
        neurons = int(np.prod(layer.shape))
        synapses = int(fan_in(layer, network.input_shapes[index], structural=True).sum())
        cores = max(math.ceil(neurons / target.neurons_per_core), math.ceil(synapses / target.synapses_per_core))
        placements.append(LayerPlacement(index, layer.type, neurons, synapses, cores))
    return placements


def core_report(network: NetworkRecord, target: TargetProfile) -> str:
    """A printable table of the cores each layer needs and whether the network fits one chip."""
    rows = place(network, target)
    lines = [f"target {target.name}: {target.neurons_per_core} neurons and {target.synapses_per_core} synapses "
             f"per core, {target.cores} cores per chip",
             f"{'layer':>5}  {'type':<6} {'neurons':>9} {'synapses':>12} {'cores':>6}"]
    lines += [f"{r.index:>5}  {r.type:<6} {r.neurons:>9} {r.synapses:>12} {r.cores:>6}" for r in rows]
    total = sum(r.cores for r in rows)
    chips = math.ceil(total / target.cores)
    lines.append(f"total: {total} cores = {chips} chip{'s' if chips > 1 else ''} "
                 f"({sum(r.neurons for r in rows)} neurons, {sum(r.synapses for r in rows)} synapses)")
    return "\n".join(lines)
