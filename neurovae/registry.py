"""Model registry: one object that maps a model name to its class and its typed config.

Example:
    >>> from neurovae.registry import MODELS
    >>> sorted(MODELS.names())  # doctest: +SKIP
    ['esvae']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from neurovae.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its class and the dataclass holding its hyper-parameters."""

    name: str
    model_class: type[nn.Module]
    config_class: type


class Registry:
    """Name -> :class:`ModelEntry`; filled by the ``@register`` decorator in each model module."""

    def __init__(self) -> None:
        self._entries: dict[str, ModelEntry] = {}

    def register(self, name: str, config_class: type) -> Callable[[type[nn.Module]], type[nn.Module]]:
        """Class decorator registering ``model_class(config)`` under ``name``."""

        def decorate(model_class: type[nn.Module]) -> type[nn.Module]:
            if name in self._entries:
                raise ValueError(f"model {name!r} is registered twice")
            self._entries[name] = ModelEntry(name, model_class, config_class)
            return model_class

        return decorate

    def names(self) -> list[str]:
        """Registered model names."""
        self._load_builtin_models()
        return sorted(self._entries)

    def _load_builtin_models(self) -> None:
        """Import :mod:`neurovae.models` (it registers every built-in model) on first use."""
        importlib.import_module("neurovae.models")

    def entry(self, name: str) -> ModelEntry:
        """The entry for ``name``; a ConfigError lists the valid names otherwise."""
        self._load_builtin_models()
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(self.names())}") from None

    def create(self, name: str, config: Any) -> nn.Module:
        """Instantiate the model ``name`` from its config dataclass."""
        return self.entry(name).model_class(config)


MODELS = Registry()
