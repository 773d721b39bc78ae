"""YAML -> :class:`RunConfig` with strict keys: a misspelt key is an error, never silently ignored."""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from neurovae import resources
from neurovae.config.schema import DataConfig, RunConfig, TrainConfig
from neurovae.errors import ConfigError
from neurovae.io import atomic_path
from neurovae.registry import MODELS

_SECTIONS = {"data": DataConfig, "train": TrainConfig}


def _float(text: str) -> float:
    """``text`` as a number, NaN where it is none."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check ``value`` against a field annotation (int/float/bool/str/None/dict/list/tuple)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if annotation is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str) and math.isfinite(number := _float(value)):
        return number  # PyYAML reads 3e-3 (no dot) as a string
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    if origin in (list, tuple) and isinstance(value, list | tuple):
        (item_type, *_) = typing.get_args(annotation) or (Any,)
        items = [_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict and isinstance(value, dict):
        key_type, value_type = typing.get_args(annotation) or (Any, Any)
        return {_coerce(k, key_type, where): _coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if annotation is Any:
        return value
    expected = getattr(annotation, "__name__", str(annotation))
    raise ConfigError(f"config key {where!r} must be {expected}, got {value!r}")


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``values``, rejecting unknown keys and bad types."""
    if not isinstance(values, dict):
        raise ConfigError(f"config section {where!r} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown config key {where}.{unknown[0]}; valid keys in {where!r}: {', '.join(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise  # already one line naming the key
    except (TypeError, ValueError) as error:
        raise ConfigError(f"invalid config section {where!r}: {error}") from None


def resolve_config(raw: dict[str, Any], overrides: dict[str, Any] | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from a parsed YAML mapping plus ``section.key`` overrides."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        raw.setdefault(section, {})[key] = value
    unknown = sorted(set(raw) - {"model", "data", "train"})
    if unknown:
        raise ConfigError(f"unknown config section {unknown[0]!r}; valid sections: model, data, train")
    model_values = dict(raw.get("model") or {})
    name = model_values.pop("name", None)
    if name is None:
        raise ConfigError(f"config needs model.name (one of {', '.join(MODELS.names())})")
    entry = MODELS.entry(name)
    return RunConfig(
        model_name=name,
        model=_build(entry.config_class, model_values, "model"),
        data=_build(DataConfig, raw.get("data") or {}, "data"),
        train=_build(TrainConfig, raw.get("train") or {}, "train"),
    )


def load_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML config file, or a shipped config by name (``esvae_fmnist``); problems are one-line ConfigErrors."""
    path = Path(path)
    if not path.is_file() and not path.suffix and path.name == str(path) and path.name in resources.names("configs"):
        path = resources.packaged("configs", f"{path.name}.yaml")
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; give a YAML file or one of the shipped configs: "
                          f"{', '.join(resources.names('configs'))}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{line}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must be a mapping with model/data/train sections")
    try:
        return resolve_config(raw, overrides)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Plain-data form of a resolved config (what is saved with a run)."""
    return {
        "model": {"name": config.model_name, **dataclasses.asdict(config.model)},
        "data": dataclasses.asdict(config.data),
        "train": dataclasses.asdict(config.train),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def save_config(config: RunConfig, path: str | os.PathLike) -> None:
    """Write the fully resolved config as YAML (atomically)."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(_plain(config_to_dict(config)), sort_keys=False))
