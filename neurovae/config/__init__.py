"""Typed run configuration: dataclass defaults, YAML overrides, resolved config saved with every run."""

from neurovae.config.loader import config_to_dict, load_config, resolve_config, save_config
from neurovae.config.schema import DataConfig, RunConfig, TrainConfig

__all__ = ["DataConfig", "RunConfig", "TrainConfig", "config_to_dict", "load_config", "resolve_config",
           "save_config"]
