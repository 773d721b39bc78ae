"""Energy profiles: per-operation energies with their sources, read from ``neurovae/profiles/energy/*.yaml``.

A ``spiking`` profile prices the operations of an event-driven chip (synaptic operations, neuron updates, spike
messages, learning updates); an ``ann`` profile prices multiply-accumulates of the same network run as an ANN.
Every constant must name its source: the report prints them, so a figure never travels without its origin.

Example:
    >>> profile = load_profile("loihi1")
    >>> profile.pj("synaptic_op"), profile.source("synaptic_op")[:16]
    (23.6, 'Davies et al. 20')
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from neurovae import resources
from neurovae.errors import NeurovaeError

PROFILES_DIR = resources.folder("energy")
REQUIRED = {
    "spiking": ("synaptic_op", "synaptic_update", "neuron_update_active", "neuron_update_inactive",
                "spike_within_tile", "tile_hop"),
    "ann": ("fp32_mac", "fp32_add", "int8_mac", "int8_add"),
}
"""The constants each kind of profile must define (picojoules)."""


class EnergyProfileError(NeurovaeError):
    """An energy profile is missing, malformed, or has a missing, negative or unsourced constant."""


@dataclass(frozen=True)
class EnergyProfile:
    """Per-operation energies (pJ) of one device, each with its source.

    Attributes:
        name: profile name.
        kind: ``spiking`` or ``ann``.
        description: one line for reports.
        constants: name -> picojoules.
        sources: name -> where the figure comes from.
        user_supplied: figures the user measured (no published table exists), flagged in every report.
        hops_per_spike: spiking profiles: tile hops a spike message makes on average (an assumption).
        path: the YAML file it was read from.
    """

    name: str
    kind: str
    description: str
    constants: dict[str, float]
    sources: dict[str, str]
    user_supplied: bool
    hops_per_spike: float
    path: str

    def pj(self, name: str) -> float:
        """The energy of one ``name`` operation in picojoules."""
        return self.constants[name]

    def source(self, name: str) -> str:
        """Where the figure of ``name`` comes from."""
        return self.sources[name]

    @property
    def spike_message_pj(self) -> float:
        """Energy of one spike message: delivery within the tile plus the assumed tile hops."""
        return self.pj("spike_within_tile") + self.hops_per_spike * self.pj("tile_hop")


def _number(value: object, what: str) -> float:
    """A finite, non-negative float, or a one-line error naming ``what``."""
    if value is None:
        raise EnergyProfileError(f"{what} has no value; fill in the figure in picojoules")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EnergyProfileError(f"{what} = {value!r} is not a number of picojoules")
    if not math.isfinite(value) or value < 0:
        raise EnergyProfileError(f"{what} = {value!r} must be a finite, non-negative number of picojoules")
    return float(value)


def _resolve(name_or_path: str | os.PathLike) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        if not path.is_file():
            raise EnergyProfileError(f"energy profile {path} not found")
        return path
    path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise EnergyProfileError(f"unknown energy profile {name_or_path!r}; known profiles: {known} "
                                 "(or give a YAML path)")
    return path


def load_profile(name_or_path: str | os.PathLike) -> EnergyProfile:
    """A profile by name (``loihi1``, ``ann_horowitz2014`` ...) or YAML path; one-line EnergyProfileError otherwise."""
    path = _resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise EnergyProfileError(f"energy profile {path} is not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise EnergyProfileError(f"energy profile {path} must be a mapping with name, kind and constants")
    kind = raw.get("kind")
    if kind not in REQUIRED:
        raise EnergyProfileError(f"energy profile {path}: kind {kind!r} must be one of {', '.join(REQUIRED)}")
    given = raw.get("constants")
    if not isinstance(given, dict):
        raise EnergyProfileError(f"energy profile {path} has no 'constants' mapping")
    missing = [name for name in REQUIRED[kind] if name not in given]
    unknown = sorted(set(given) - set(REQUIRED[kind]))
    if missing or unknown:
        problem = f"misses {', '.join(missing)}" if missing else f"has unknown constants {', '.join(unknown)}"
        raise EnergyProfileError(f"energy profile {path} {problem}; a {kind} profile defines exactly "
                                 f"{', '.join(REQUIRED[kind])}")
    constants, sources = {}, {}
    for name in REQUIRED[kind]:
        entry = given[name]
        if not isinstance(entry, dict) or not str(entry.get("source") or "").strip():
            raise EnergyProfileError(f"energy profile {path}: constant {name} needs 'pj' and a 'source'")
        constants[name] = _number(entry.get("pj"), f"energy profile {path}: constant {name}")
        sources[name] = str(entry["source"]).strip()
    routing = raw.get("routing") or {}
    hops = _number(routing.get("hops_per_spike", 0.0), f"energy profile {path}: routing.hops_per_spike")
    return EnergyProfile(name=str(raw.get("name") or path.stem), kind=kind,
                         description=str(raw.get("description") or ""), constants=constants, sources=sources,
                         user_supplied=bool(raw.get("user_supplied", False)), hops_per_spike=hops, path=str(path))
