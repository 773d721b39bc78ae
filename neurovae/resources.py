"""Files that ship inside the package: the model configs and the energy and target profiles.

They are read through ``importlib.resources``, so a wheel installed anywhere finds them, not only a checkout.
(The repository's top-level ``configs/`` is a link to ``neurovae/configs/``.)

Example:
    >>> packaged("configs", "esvae_fmnist_small.yaml").name
    'esvae_fmnist_small.yaml'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

KINDS = {"configs": "configs", "energy": "profiles/energy", "targets": "profiles/targets"}
"""What ships, by kind: model configs (``train``'s YAML), energy profiles and target profiles."""


def folder(kind: str) -> Path:
    """The installed folder of ``kind`` (a key of :data:`KINDS`)."""
    return Path(str(resources.files("neurovae").joinpath(KINDS[kind])))


def packaged(kind: str, name: str) -> Path:
    """The installed file ``name`` of ``kind``."""
    return folder(kind) / name


def names(kind: str) -> list[str]:
    """The YAML files of ``kind``, without their suffix, sorted."""
    return sorted(path.stem for path in folder(kind).glob("*.yaml"))
